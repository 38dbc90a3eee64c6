import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../helpers/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createConversation, createGroup, expectError, markRead, postMessage, registerUser, type TestUser } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { StreamClient } from '../helpers/stream-client.js';

/**
 * Resume after a disconnect: GET /api/v1/conversations/changes?since=<the last position the client
 * saw>. A client that applies the answer (changed items replace or add, removed ids leave) to the list
 * it had must end with exactly the list the server serves now, whether it reads one page or many.
 */

const V1 = '/api/v1';
const CHANGES = `${V1}/conversations/changes`;

interface Changes {
  changed: any[];
  removed: string[];
  position: string;
  hasMore: boolean;
}

/** The client's view of its list: id -> item. */
type View = Map<string, any>;

function apply(view: View, c: { changed: any[]; removed: string[] }): void {
  for (const id of c.removed) view.delete(id);
  for (const item of c.changed) view.set(item.id, item);
}

async function changes(api: ApiClient, user: TestUser, query: string): Promise<Changes> {
  const res = await api.get(`${CHANGES}?${query}`, user.token);
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.body.data).sort()).toEqual(['changed', 'hasMore', 'position', 'removed']);
  return res.body.data;
}

/** Pages through the changes after `since`, `limit` at a time; fails if the pages never end. */
async function allChanges(api: ApiClient, user: TestUser, since: string, limit: number, view: View): Promise<{ pages: number; position: string; removed: string[] }> {
  let position = since;
  const removed: string[] = [];
  for (let pages = 1; pages <= 100; pages++) {
    const page = await changes(api, user, `since=${encodeURIComponent(position)}&limit=${limit}`);
    expect(page.changed.length + page.removed.length).toBeLessThanOrEqual(limit);
    apply(view, page);
    removed.push(...page.removed);
    position = page.position;
    if (!page.hasMore) return { pages, position, removed };
  }
  throw new Error(`changes after ${since} with limit ${limit}: still hasMore after 100 pages (position ${position})`);
}

async function currentList(api: ApiClient, user: TestUser): Promise<View> {
  const res = await api.get(`${V1}/conversations?limit=100`, user.token);
  expect(res.status, res.text).toBe(200);
  return new Map(res.body.data.map((c: any) => [c.id, c]));
}

describe('resume: GET /api/v1/conversations/changes', () => {
  let cluster: Cluster;
  let root: TestUser;
  beforeAll(async () => {
    cluster = await startCluster(2, SHARED_REDIS_URL, { ADMIN_USERNAMES: 'root' });
    root = await registerUserNamed(cluster.instances[0]!.api, 'root');
  });
  afterAll(async () => cluster.teardown());

  const A = () => cluster.instances[0]!.api;
  const B = () => cluster.instances[1]!.api;

  interface World {
    me: TestUser;
    a: TestUser;
    b: TestUser;
    c: TestUser;
    g1: any;
    g2: any;
    g3: any;
    g4: any;
    direct: any;
    m1: any;
  }

  async function world(): Promise<World> {
    const [me, a, b, c] = await Promise.all(['Me', 'Ann', 'Bob', 'Cat'].map((n) => registerUser(A(), n)));
    const g1 = await createGroup(A(), a!, [me!, b!], 'One');
    const g2 = await createGroup(A(), me!, [b!], 'Two');
    const g3 = await createGroup(A(), a!, [me!], 'Three');
    const g4 = await createGroup(A(), b!, [me!, c!], 'Four');
    const direct = await createConversation(A(), me!, { type: 'direct', memberIds: [c!.id] });
    const m1 = await postMessage(A(), a!, g1.id, 'hello');
    return { me: me!, a: a!, b: b!, c: c!, g1, g2, g3, g4, direct, m1 };
  }

  /** Writes the client misses, on both instances: every kind that changes its list. */
  async function missedWrites(w: World): Promise<{ removed: string[]; created: string }> {
    const m2 = await postMessage(B(), w.a, w.g1.id, 'while away');
    expect((await A().patch(`${V1}/conversations/${w.g1.id}`, w.a.token, { title: 'One renamed' })).status).toBe(200);
    await postMessage(A(), w.c, w.direct.id, 'psst');
    expect((await B().delete(`${V1}/conversations/${w.g4.id}/members/${w.me.id}`, w.b.token)).status).toBe(200);
    expect((await A().delete(`${V1}/conversations/${w.g3.id}`, w.a.token)).status).toBe(200);
    const g5 = await createGroup(B(), w.b, [w.me], 'Five');
    expect((await A().patch(`${V1}/users/me`, w.c.token, { displayName: 'Cat renamed' })).status).toBe(200);
    expect((await B().patch(`${V1}/conversations/${w.g1.id}/messages/${m2.id}`, w.a.token, { content: 'edited away' })).status).toBe(200);
    expect((await A().delete(`${V1}/conversations/${w.g1.id}/messages/${w.m1.id}`, w.a.token)).status).toBe(200);
    expect((await B().post(`${V1}/conversations/${w.g2.id}/members`, w.me.token, { userId: w.c.id })).status).toBe(200);
    await markRead(A(), w.me, w.direct.id);
    // A write that concerns other users only: not the client's business.
    await createGroup(B(), w.b, [w.c], 'Not mine');
    return { removed: [w.g4.id, w.g3.id], created: g5.id };
  }

  /** The client's view and last position when it went away: its list, then the frames it received. */
  async function goAway(w: World): Promise<{ view: View; position: string }> {
    const view = await currentList(A(), w.me);
    const stream = await StreamClient.connect(cluster.instances[1]!.url, w.me.token);
    const seen = await postMessage(A(), w.b, w.g2.id, 'seen live');
    await stream.waitFor((f) => f.type === 'conversation' && f.item.lastMessage?.id === seen.id);
    for (const f of stream.events) if (f.type === 'conversation') view.set(f.item.id, f.item);
    const position = stream.events.filter((f) => typeof f.position === 'string').at(-1)!.position!;
    await stream.close();
    return { view, position };
  }

  it('one page: every changed item as the list shows it now, every removed id, nothing missed', async () => {
    const w = await world();
    const { view, position } = await goAway(w);
    const missed = await missedWrites(w);
    const page = await changes(A(), w.me, `since=${encodeURIComponent(position)}&limit=500`);
    expect(page.hasMore).toBe(false);
    const now = await currentList(B(), w.me);
    // Each changed item is the current one; each removed id is out of the list.
    for (const item of page.changed) expect(item).toEqual(now.get(item.id));
    for (const id of page.removed) expect(now.has(id)).toBe(false);
    expect(page.removed).toEqual(expect.arrayContaining(missed.removed));
    expect(page.changed.map((i) => i.id)).toContain(missed.created);
    apply(view, page);
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(now));
    // From the answer's position, a later write is found again.
    const later = await postMessage(B(), w.b, w.g2.id, 'later');
    const next = await changes(A(), w.me, `since=${encodeURIComponent(page.position)}`);
    expect(next.changed.find((i) => i.id === w.g2.id)?.lastMessage.id).toBe(later.id);
  });

  it('small pages chained by position give the same list, each page within its limit', async () => {
    const w = await world();
    const { view, position } = await goAway(w);
    const missed = await missedWrites(w);
    const paged = await allChanges(B(), w.me, position, 1, view);
    expect(paged.pages).toBeGreaterThan(1);
    expect(paged.removed).toEqual(expect.arrayContaining(missed.removed));
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(await currentList(A(), w.me)));

    const { view: view2, position: position2 } = await goAway(w);
    await postMessage(A(), w.a, w.g1.id, 'one more');
    await allChanges(A(), w.me, position2, 2, view2);
    expect(Object.fromEntries(view2)).toEqual(Object.fromEntries(await currentList(B(), w.me)));
  });

  it('without since: the current position and no changes; resuming from it finds the next write', async () => {
    const w = await world();
    const head = await changes(B(), w.me, '');
    expect(head).toEqual({ changed: [], removed: [], position: expect.any(String), hasMore: false });
    const view = await currentList(A(), w.me);
    await postMessage(A(), w.a, w.g1.id, 'after the head');
    expect((await A().delete(`${V1}/conversations/${w.g3.id}/members/${w.me.id}`, w.me.token)).status).toBe(200);
    const page = await changes(B(), w.me, `since=${encodeURIComponent(head.position)}`);
    expect(page.removed).toContain(w.g3.id);
    apply(view, page);
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(await currentList(B(), w.me)));
  });

  it('a position from the stream’s ready frame resumes too', async () => {
    const w = await world();
    const view = await currentList(B(), w.me);
    const stream = await StreamClient.connect(cluster.instances[0]!.url, w.me.token);
    const position = stream.readyPosition;
    await stream.close();
    await missedWrites(w);
    await allChanges(A(), w.me, position, 3, view);
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(await currentList(A(), w.me)));
  });

  it('410 RESYNC_REQUIRED for a malformed or made-up position, and changes nothing', async () => {
    const w = await world();
    const head = await changes(A(), w.me, '');
    const epoch = head.position.split(':')[0];
    const bad = ['garbage', 'x:1-0', '1', ':', `${Number(epoch) + 7}:1-0`, `${epoch}:abc`, `${epoch}:99999999999999-0`, '-1:0-0'];
    for (const since of bad) {
      const res = await A().get(`${CHANGES}?since=${encodeURIComponent(since)}`, w.me.token);
      expectError(res, 410, 'RESYNC_REQUIRED');
    }
    // Bad parameters are a 400; no token is a 401.
    expectError(await A().get(`${CHANGES}?since=${'x'.repeat(201)}`, w.me.token), 400, 'VALIDATION_ERROR');
    expectError(await A().get(`${CHANGES}?limit=0`, w.me.token), 400, 'VALIDATION_ERROR');
    expectError(await A().get(`${CHANGES}?limit=501`, w.me.token), 400, 'VALIDATION_ERROR');
    expectError(await A().get(`${CHANGES}?since=${encodeURIComponent(head.position)}&extra=1`, w.me.token), 400, 'VALIDATION_ERROR');
    expectError(await A().get(`${CHANGES}?since=${encodeURIComponent(head.position)}`), 401, 'UNAUTHORIZED');
    // The real position still works after all that.
    expect((await changes(A(), w.me, `since=${encodeURIComponent(head.position)}`)).hasMore).toBe(false);
  });

  it('after DELETE /api/v1/admin/cache a position from before is 410 on every instance; a new one works', async () => {
    const w = await world();
    const before = (await changes(A(), w.me, '')).position;
    await postMessage(A(), w.a, w.g1.id, 'before the clear');
    expect((await A().delete(`${V1}/admin/cache`, root.token)).status).toBe(200);
    for (const api of [A(), B()]) expectError(await api.get(`${CHANGES}?since=${encodeURIComponent(before)}`, w.me.token), 410, 'RESYNC_REQUIRED');
    const after = (await changes(B(), w.me, '')).position;
    expect(after).not.toBe(before);
    const view = await currentList(A(), w.me);
    await postMessage(B(), w.a, w.g1.id, 'after the clear');
    await allChanges(A(), w.me, after, 100, view);
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(await currentList(B(), w.me)));
  });
});

describe('memory only (no Redis): one instance pushes and resumes from its own journal', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, undefined);
  });
  afterAll(async () => cluster.teardown());

  it('frames, resume from a frame’s position in small pages, and 410 for positions it did not give', async () => {
    const gw = cluster.instances[0]!;
    const [me, a] = await Promise.all([registerUser(gw.api, 'Me'), registerUser(gw.api, 'Ann')]);
    const g1 = await createGroup(gw.api, a, [me], 'One');
    const g2 = await createGroup(gw.api, a, [me], 'Two');
    const view = await currentList(gw.api, me);
    const stream = await StreamClient.connect(gw.url, me.token);
    const seen = await postMessage(gw.api, a, g1.id, 'live');
    const frame = await stream.waitFor((f) => f.type === 'message' && f.messageId === seen.id);
    await stream.waitFor((f) => f.type === 'conversation' && f.item.lastMessage?.id === seen.id);
    for (const f of stream.events) if (f.type === 'conversation') view.set(f.item.id, f.item);
    await stream.close();

    await postMessage(gw.api, a, g2.id, 'away');
    expect((await gw.api.delete(`${V1}/conversations/${g1.id}/members/${me.id}`, a.token)).status).toBe(200);
    const g3 = await createGroup(gw.api, a, [me], 'Three');
    const paged = await allChanges(gw.api, me, frame.position!, 1, view);
    expect(paged.removed).toContain(g1.id);
    expect(view.has(g3.id)).toBe(true);
    expect(Object.fromEntries(view)).toEqual(Object.fromEntries(await currentList(gw.api, me)));

    const [epoch, seq] = frame.position!.split(':');
    for (const since of [`${Number(epoch) + 1}:${seq}`, `${epoch}:${Number(seq) + 1000}`, `${epoch}:x`, 'nope']) {
      expectError(await gw.api.get(`${CHANGES}?since=${encodeURIComponent(since)}`, me.token), 410, 'RESYNC_REQUIRED');
    }
  });
});

async function registerUserNamed(api: ApiClient, username: string): Promise<TestUser> {
  const res = await api.post(`${V1}/auth/register`, undefined, { username, password: 'password-123' });
  expect(res.status, res.text).toBe(201);
  const u = res.body.data.user;
  return { id: u.id, username: u.username, displayName: u.displayName, token: res.body.data.token };
}
