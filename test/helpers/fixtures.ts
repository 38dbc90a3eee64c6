import { expect } from 'vitest';
import type { ApiClient, ApiResponse } from './client.js';

export { mapLimit } from '../../support/concurrency.js';

export interface TestUser {
  id: string;
  username: string;
  displayName: string;
  token: string;
}

let counter = 0;

/** A unique username per call (3–32 chars of the contract's alphabet). */
export function uniqueUsername(prefix = 'u'): string {
  return `${prefix}${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}${(++counter).toString(36)}`.slice(0, 32);
}

export async function registerUser(api: ApiClient, displayName?: string): Promise<TestUser> {
  const username = uniqueUsername();
  const res = await api.post('/api/v1/auth/register', undefined, { username, password: 'password-123', displayName });
  expect(res.status, res.text).toBe(201);
  const u = res.body.data.user;
  return { id: u.id, username: u.username, displayName: u.displayName, token: res.body.data.token };
}

export async function registerUsers(api: ApiClient, n: number): Promise<TestUser[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => registerUser(api, `User ${i}`)));
}

export async function createConversation(
  api: ApiClient,
  owner: TestUser,
  body: { type: 'direct' | 'group' | 'public'; title?: string; memberIds: string[] },
): Promise<any> {
  const res = await api.post('/api/v1/conversations', owner.token, body);
  expect([200, 201], res.text).toContain(res.status);
  return res.body.data;
}

export async function createGroup(api: ApiClient, owner: TestUser, members: TestUser[], title = 'Group'): Promise<any> {
  return createConversation(api, owner, { type: 'group', title, memberIds: members.map((m) => m.id) });
}

export async function postMessage(api: ApiClient, user: TestUser, conversationId: string, content: string): Promise<any> {
  const res = await api.post(`/api/v1/conversations/${conversationId}/messages`, user.token, { content });
  expect(res.status, res.text).toBe(201);
  return res.body.data;
}

/** The caller's list; asserts a 200 and returns the parsed body and headers. */
export async function listConversations(api: ApiClient, user: TestUser, query = ''): Promise<{ body: any; headers: Headers }> {
  const res = await api.get(`/api/v1/conversations${query ? `?${query}` : ''}`, user.token);
  expect(res.status, res.text).toBe(200);
  return { body: res.body, headers: res.headers };
}

/** The item of one conversation in the caller's (first 100) list, or undefined. */
export async function itemInList(api: ApiClient, user: TestUser, conversationId: string): Promise<any> {
  const { body } = await listConversations(api, user, 'limit=100');
  return body.data.find((c: any) => c.id === conversationId);
}

// ---- Contract suite helpers (test/http/routes) ----

/** What the API client answers (status, parsed body, raw text). */
export interface Res {
  status: number;
  body: any;
  text: string;
}

/** SQL or a stack trace in an error body would leak internals: never allowed. */
const LEAK = /\bat [^\s]+ \(|\.ts:\d+|\.js:\d+|"stack"|\bSELECT\b|\bINSERT\b|\bUPDATE\b|\bDELETE FROM\b|\bWHERE\b|\bsqlstate\b|duplicate key|violates|syntax error/;

/** Asserts the contract's error answer exactly: `{ success: false, error: { code, message } }` and nothing else. */
export function expectError(res: Res, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body, res.text).toEqual({ success: false, error: { code, message: expect.any(String) } });
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(res.text).not.toMatch(LEAK);
}

/** Registers users one after the other, so that their ids (and join order) follow `names`. */
export async function registerInOrder(api: ApiClient, names: string[]): Promise<TestUser[]> {
  const users: TestUser[] = [];
  for (const n of names) users.push(await registerUser(api, n));
  return users;
}

/** GET /conversations/:id as `user`; asserts a 200 and returns the item. */
export async function getConversation(api: ApiClient, user: TestUser, conversationId: string): Promise<any> {
  const res = await api.get(`/api/v1/conversations/${conversationId}`, user.token);
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

/** POST /conversations/:id/read as `user` (up to `messageId`, or the newest); returns the item. */
export async function markRead(api: ApiClient, user: TestUser, conversationId: string, messageId?: string): Promise<any> {
  const res = await api.post(`/api/v1/conversations/${conversationId}/read`, user.token, messageId === undefined ? {} : { messageId });
  expect(res.status, res.text).toBe(200);
  return res.body.data;
}

/** Ids of the caller's whole list (up to 100), in list order. */
export async function listIds(api: ApiClient, user: TestUser, query = 'limit=100'): Promise<string[]> {
  const { body } = await listConversations(api, user, query);
  return body.data.map((c: any) => c.id);
}

/** beforeAll timeout of a suite that starts a gateway (PGlite start-up is slow on a loaded machine). */
export const SETUP_TIMEOUT_MS = 180_000;

/**
 * Lets the clock move past the current millisecond (timestamps are stored to the millisecond), so that
 * two writes a test expects in a given order cannot share a timestamp and fall back to the id tie-break.
 */
export const nextMillisecond = () => new Promise<void>((resolve) => setTimeout(resolve, 3));

/**
 * GETs `path` until it is served from L1 (at most `ms`): the precondition "this list is cached here".
 * Usually the second read; with Redis, the L2 fill that precedes L1 may still be in flight, or the
 * instance's lease may have lapsed on a CPU-starved machine (no L1 is served until the next heartbeat).
 * Returns the X-Cache headers seen and the last response.
 */
export async function readUntilHit(api: ApiClient, path: string, token: string, ms = 5000): Promise<{ seen: string[]; res: ApiResponse }> {
  const seen: string[] = [];
  const deadline = Date.now() + ms;
  let res!: ApiResponse;
  while (seen.at(-1) !== 'HIT-L1' && (seen.length === 0 || Date.now() < deadline)) {
    if (seen.length > 1) await new Promise((r) => setTimeout(r, 50));
    res = await api.get(path, token);
    expect(res.status, res.text).toBe(200);
    seen.push(res.headers.get('x-cache') ?? '');
  }
  return { seen, res };
}

