import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/model/limits.js';
import {
  createGroup,
  expectError,
  registerUser,
  registerUsers,
  SETUP_TIMEOUT_MS,
  uniqueUsername,
  type Res,
  type TestUser,
} from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/**
 * The limits that protect the service, over real HTTP against PostgreSQL: body size (413), page sizes,
 * group size and message length (400), and the per-user request rate (429 with Retry-After).
 */

/** A JSON body of exactly `bytes` bytes: `{"content":"x…x"}` plus padding inside the string. */
function bodyOfSize(bytes: number, field = 'content'): string {
  const head = `{"${field}":"`;
  const tail = '"}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

describe('limits: body size, page size, group size, message length (postgres)', () => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser;
  let group: any;
  /** Ids of users inserted straight into the database (500 registrations over HTTP would be slow). */
  let bulk: string[];
  beforeAll(async () => {
    env = await setupEnv('postgres');
    [alice, bob] = (await registerUsers(env.api, 2)) as [TestUser, TestUser];
    group = await createGroup(env.api, alice, [bob], 'Limits');
    const { rows } = await env.database!.db.query<{ id: string }>(
      `INSERT INTO users (username, password_hash, display_name)
       SELECT $1 || g, 'x', 'Bulk ' || g FROM generate_series(1, $2::int) g RETURNING id::text AS id`,
      [uniqueUsername('bulk'), LIMITS.groupOtherMembersMax + 2],
    );
    bulk = rows.map((r) => r.id);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const raw = (method: string, path: string, token: string | undefined, rawBody: string) =>
    env.api.request(method, path, { token, rawBody, headers: { 'content-type': 'application/json' } });
  const messages = () => `/api/v1/conversations/${group.id}/messages`;

  describe('request body: 64 KiB', () => {
    it('exactly 64 KiB is read (then judged on its content); one byte more → 413 PAYLOAD_TOO_LARGE', async () => {
      // 65536 bytes of body: the transport takes it; 65 530 characters of content are over 4000 → 400.
      expectError(await raw('POST', messages(), alice.token, bodyOfSize(LIMITS.bodyMaxBytes)), 400, 'VALIDATION_ERROR');
      expectError(await raw('POST', messages(), alice.token, bodyOfSize(LIMITS.bodyMaxBytes + 1)), 413, 'PAYLOAD_TOO_LARGE');
    });

    it.each([
      ['POST /auth/register (no token)', 'POST', () => '/api/v1/auth/register', false, 'username'],
      ['POST /auth/login (no token)', 'POST', () => '/api/v1/auth/login', false, 'username'],
      ['POST /conversations', 'POST', () => '/api/v1/conversations', true, 'title'],
      ['PATCH /conversations/:id', 'PATCH', () => `/api/v1/conversations/${group.id}`, true, 'title'],
      ['POST /conversations/:id/messages', 'POST', () => messages(), true, 'content'],
      ['POST /conversations/:id/read', 'POST', () => `/api/v1/conversations/${group.id}/read`, true, 'messageId'],
      ['PATCH /users/me', 'PATCH', () => '/api/v1/users/me', true, 'displayName'],
      ['DELETE /conversations/:id (no body expected)', 'DELETE', () => `/api/v1/conversations/${group.id}`, true, 'x'],
    ])('%s with 100 KiB → 413, and nothing changed', async (_label, method, path, auth, field) => {
      expectError(await raw(method, path(), auth ? alice.token : undefined, bodyOfSize(100 * 1024, field)), 413, 'PAYLOAD_TOO_LARGE');
      // The group is still there, unchanged.
      const res = await env.api.get(`/api/v1/conversations/${group.id}`, alice.token);
      expect(res.status).toBe(200);
      expect(res.body.data.title).toBe('Limits');
    });

    it('a multi-megabyte body is refused without reading it all (the answer comes, the server stays up)', async () => {
      const res = await raw('POST', messages(), alice.token, bodyOfSize(8 * 1024 * 1024));
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
      expect((await env.api.get('/health')).status).toBe(200);
    });
  });

  describe('page size: at most 100', () => {
    it.each([
      ['conversation list', () => '/api/v1/conversations'],
      ['message history', () => messages()],
    ])('%s: limit=100 → 200; 101, 1000, 0, -1, 1.5, 1e3, "abc" → 400', async (_label, path) => {
      const ok = await env.api.get(`${path()}?limit=100`, alice.token);
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.pagination.limit).toBe(100);
      for (const bad of ['101', '1000', '0', '-1', '1.5', '1e3', 'abc', '99999999999999999999']) {
        expectError(await env.api.get(`${path()}?limit=${bad}`, alice.token), 400, 'VALIDATION_ERROR');
      }
    });

    it('the list’s offset is bounded too (no unbounded OFFSET scans)', async () => {
      expect((await env.api.get('/api/v1/conversations?offset=1000000', alice.token)).status).toBe(200);
      expectError(await env.api.get('/api/v1/conversations?offset=1000001', alice.token), 400, 'VALIDATION_ERROR');
    });
  });

  describe('group size: at most 500 other members', () => {
    const create = (memberIds: string[], type: 'group' | 'public' = 'group') =>
      env.api.post('/api/v1/conversations', alice.token, { type, title: `Big ${memberIds.length}`, memberIds });

    it('500 other members → 201 (501 members with the creator)', async () => {
      const res = await create(bulk.slice(0, LIMITS.groupOtherMembersMax));
      expect(res.status, res.text.slice(0, 300)).toBe(201);
      expect(res.body.data.memberCount).toBe(LIMITS.groupOtherMembersMax + 1);
      expect(res.body.data.members).toHaveLength(5);
    });

    it('501 other members → 400, for a group and for a public conversation; nothing is created', async () => {
      const before = (await env.api.get('/api/v1/conversations?limit=100', alice.token)).body.pagination.total;
      expectError(await create(bulk.slice(0, LIMITS.groupOtherMembersMax + 1)), 400, 'VALIDATION_ERROR');
      expectError(await create(bulk.slice(0, LIMITS.groupOtherMembersMax + 1), 'public'), 400, 'VALIDATION_ERROR');
      // 502 entries: refused by the schema before anything is looked up.
      expectError(await create(bulk.slice(0, LIMITS.groupOtherMembersMax + 2)), 400, 'VALIDATION_ERROR');
      expect((await env.api.get('/api/v1/conversations?limit=100', alice.token)).body.pagination.total).toBe(before);
    });

    it('the creator and duplicates do not count as other members', async () => {
      const ids = [alice.id, ...bulk.slice(0, LIMITS.groupOtherMembersMax - 1), bulk[0]!];
      expect(ids).toHaveLength(LIMITS.groupOtherMembersMax + 1);
      const res = await create(ids);
      expect(res.status, res.text.slice(0, 300)).toBe(201);
      expect(res.body.data.memberCount).toBe(LIMITS.groupOtherMembersMax);
    });
  });

  describe('message length: at most 4000 characters', () => {
    it('4000 → 201; 4001 → 400 (post and edit); the stored message is unchanged', async () => {
      const ok = await env.api.post(messages(), bob.token, { content: 'm'.repeat(LIMITS.messageMax) });
      expect(ok.status, ok.text.slice(0, 200)).toBe(201);
      const id = ok.body.data.id;
      expectError(await env.api.post(messages(), bob.token, { content: 'm'.repeat(LIMITS.messageMax + 1) }), 400, 'VALIDATION_ERROR');
      expectError(await env.api.patch(`${messages()}/${id}`, bob.token, { content: 'e'.repeat(LIMITS.messageMax + 1) }), 400, 'VALIDATION_ERROR');
      // Characters, not UTF-16 units or bytes: 4001 emoji are over, 4000 are not.
      expectError(await env.api.post(messages(), bob.token, { content: '😀'.repeat(LIMITS.messageMax + 1) }), 400, 'VALIDATION_ERROR');
      const history = await env.api.get(`${messages()}?limit=1`, bob.token);
      expect(history.body.data[0]).toMatchObject({ id, content: 'm'.repeat(LIMITS.messageMax), editedAt: null });
    });
  });
});

describe('limits: request rate per user (postgres, RATE_LIMIT_PER_MINUTE=10)', () => {
  const PER_MINUTE = 10;
  let env: Awaited<ReturnType<typeof setupEnv>>;
  beforeAll(async () => {
    env = await setupEnv('postgres', { RATE_LIMIT_PER_MINUTE: String(PER_MINUTE) });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  /** The contract's 429: error shape, RATE_LIMITED, and a Retry-After of at most the window. */
  function expectRateLimited(res: Res & { headers: Headers }): void {
    expectError(res, 429, 'RATE_LIMITED');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter), `retry-after: ${res.headers.get('retry-after')}`).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  }

  /** A request from another loopback address (Linux answers on all of 127.0.0.0/8): another IP for the limiter. */
  function fromAddress(localAddress: string, method: string, path: string, body: unknown): Promise<{ status: number; body: any; text: string; headers: Headers }> {
    const url = new URL(env.gateway.url + path);
    const data = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: url.pathname, method, localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, text, headers });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  it('a user’s requests past the limit → 429 RATE_LIMITED with Retry-After; another user is not limited', async () => {
    // Registered from addresses of their own, so that registration does not use up anyone's budget.
    const register = async (address: string) => {
      const res = await fromAddress(address, 'POST', '/api/v1/auth/register', { username: uniqueUsername(), password: 'password-123' });
      expect(res.status, res.text).toBe(201);
      return { id: res.body.data.user.id as string, token: res.body.data.token as string, username: res.body.data.user.username as string };
    };
    const heavy = await register('127.0.0.11');
    const light = await register('127.0.0.12');

    for (let i = 0; i < PER_MINUTE; i++) {
      const res = await env.api.get('/api/v1/conversations', heavy.token);
      expect(res.status, `request ${i + 1}: ${res.text}`).toBe(200);
    }
    expectRateLimited(await env.api.get('/api/v1/conversations', heavy.token));
    // Every route counts against the same budget: a write is refused too, and does not happen.
    expectRateLimited(await env.api.post('/api/v1/conversations', heavy.token, { type: 'public', title: 'too late', memberIds: [] }));
    expectRateLimited(await env.api.get('/api/v1/auth/me', heavy.token));

    // The other user, from the same IP, is not affected.
    const other = await env.api.get('/api/v1/conversations', light.token);
    expect(other.status, other.text).toBe(200);
    expect(other.body.data).toEqual([]);
    const mine = await env.api.post('/api/v1/conversations', light.token, { type: 'public', title: 'fine', memberIds: [] });
    expect(mine.status, mine.text).toBe(201);
  });

  it('the limit is per user, not per token: a fresh login does not reset it', async () => {
    const username = uniqueUsername();
    const reg = await fromAddress('127.0.0.13', 'POST', '/api/v1/auth/register', { username, password: 'password-123' });
    expect(reg.status, reg.text).toBe(201);
    const token = reg.body.data.token as string;
    for (let i = 0; i < PER_MINUTE; i++) expect((await env.api.get('/api/v1/auth/me', token)).status).toBe(200);
    const login = await fromAddress('127.0.0.14', 'POST', '/api/v1/auth/login', { username, password: 'password-123' });
    expect(login.status, login.text).toBe(200);
    expectRateLimited(await env.api.get('/api/v1/auth/me', login.body.data.token));
  });

  it('malformed requests count too: a flood of invalid bodies is limited like any other traffic', async () => {
    const reg = await fromAddress('127.0.0.15', 'POST', '/api/v1/auth/register', { username: uniqueUsername(), password: 'password-123' });
    const token = reg.body.data.token as string;
    for (let i = 0; i < PER_MINUTE; i++) {
      const res = await env.api.request('POST', '/api/v1/conversations', { token, rawBody: '{"type":' });
      expectError(res, 400, 'VALIDATION_ERROR');
    }
    expectRateLimited(await env.api.request('POST', '/api/v1/conversations', { token, rawBody: '{"type":' }));
    expectRateLimited(await env.api.get('/api/v1/auth/me', token));
  });

  it('before login, per IP: login attempts past the limit → 429, from another IP they go on', async () => {
    const user = await registerUser(env.api);
    const attempt = (address: string, password: string) => fromAddress(address, 'POST', '/api/v1/auth/login', { username: user.username, password });
    for (let i = 0; i < PER_MINUTE; i++) {
      const res = await attempt('127.0.0.21', `wrong-password-${i}`);
      expectError(res, 401, 'UNAUTHORIZED');
    }
    // Even the right password is refused from this address now: guessing is capped per IP.
    expectRateLimited(await attempt('127.0.0.21', 'password-123'));
    const elsewhere = await attempt('127.0.0.22', 'password-123');
    expect(elsewhere.status, elsewhere.text).toBe(200);
  });
});
