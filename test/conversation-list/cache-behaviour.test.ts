import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StateLoaders } from '../../src/conversation-list/loaders.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createConversation, createGroup, mapLimit, postMessage, readUntilHit, registerUser, registerUsers, type TestUser } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const LIST = '/api/v1/conversations';

/** A loader seam: the next load of one conversation's state is held after it has read the database, until released. */
class LoadGate {
  private target: string | undefined;
  private reachedResolve: (() => void) | undefined;
  private releaseResolve: (() => void) | undefined;
  reached: Promise<void> = Promise.resolve();

  holdNextLoadOf(conversationId: string): void {
    this.target = conversationId;
    this.reached = new Promise((r) => (this.reachedResolve = r));
  }

  release(): void {
    this.releaseResolve?.();
  }

  wrap = (loaders: StateLoaders): StateLoaders => ({
    members: loaders.members,
    conversations: async (ids) => {
      const loaded = await loaders.conversations(ids);
      if (this.target !== undefined && ids.includes(this.target)) {
        this.target = undefined;
        const released = new Promise<void>((r) => (this.releaseResolve = r));
        this.reachedResolve?.();
        await released;
      }
      return loaded;
    },
  });
}

describe('the conversation-list cache over HTTP', () => {
  let cluster: Cluster;
  const gate = new LoadGate();
  beforeAll(async () => {
    cluster = await startCluster(2, SHARED_REDIS_URL, {}, { wrapStateLoaders: gate.wrap });
    // An oracle on the same database with the cache off: what every list must equal.
    await cluster.addInstance({}, { CACHE_ENABLED: 'false' });
  });
  afterAll(async () => cluster.teardown());

  const inst = (i: number) => cluster.instances[i]!;
  const oracle = () => cluster.instances[2]!;

  for (const [name, loadOn] of [
    ['on the same instance', 0],
    ['across instances (load on B, write on A)', 1],
  ] as const) {
    it(`a list loaded before a write is never stored after it (stale-fill race, ${name})`, async () => {
      const [alice, bob] = await registerUsers(inst(0).api, 2);
      const group = await createGroup(inst(0).api, alice!, [bob!]);
      await postMessage(inst(0).api, alice!, group.id, 'old');
      // Nothing of it in any cache: bob's next read loads the conversation's state from the database.
      await inst(0).gw.listCache!.clear();
      const refusedBefore = inst(loadOn).gw.engine!.stats().staleFillsRefused;

      gate.holdNextLoadOf(group.id);
      const slowRead = inst(loadOn).api.get(LIST, bob!.token);
      await gate.reached; // the conversation's state has been read from the database: it says 'old'
      await postMessage(inst(0).api, alice!, group.id, 'new'); // acknowledged while the load is held
      gate.release();
      const first = await slowRead;
      expect(first.headers.get('x-cache')).toBe('MISS');
      expect(first.body.data[0].lastMessage.content).toBe('old'); // sent before the write: allowed

      for (const i of [0, 1]) {
        const next = await inst(i).api.get(LIST, bob!.token);
        expect(next.body.data[0].lastMessage.content).toBe('new');
      }
      // The held load's value was older than what the write installed: stored nowhere.
      expect(inst(loadOn).gw.engine!.stats().staleFillsRefused).toBeGreaterThan(refusedBefore);
    });
  }

  it('limit 5 and limit 50 are different entries; each is right', async () => {
    const [owner, ...others] = await registerUsers(inst(0).api, 8);
    for (const o of others) await createConversation(inst(0).api, owner!, { type: 'direct', memberIds: [o.id] });
    // Composed once per variant from the same cached state (the writes above installed it), then kept.
    const five1 = await inst(0).api.get(`${LIST}?limit=5`, owner!.token);
    const fifty1 = await inst(0).api.get(`${LIST}?limit=50`, owner!.token);
    expect(five1.body.data).toHaveLength(5);
    expect(fifty1.body.data).toHaveLength(7);
    expect(five1.body.data).toEqual(fifty1.body.data.slice(0, 5));
    const five2 = (await readUntilHit(inst(0).api, `${LIST}?limit=5`, owner!.token)).res;
    const fifty2 = (await readUntilHit(inst(0).api, `${LIST}?limit=50`, owner!.token)).res;
    expect(five2.headers.get('x-cache')).toBe('HIT-L1');
    expect(fifty2.headers.get('x-cache')).toBe('HIT-L1');
    expect(five2.body.data).toHaveLength(5);
    expect(fifty2.body.data).toHaveLength(7);
    expect(five2.body.pagination).toMatchObject({ limit: 5, total: 7, hasMore: true });
    expect(fifty2.body.pagination).toMatchObject({ limit: 50, total: 7, hasMore: false, nextCursor: null });
  });

  it('a cursor page and an offset page are right after writes (equal to the uncached answer)', async () => {
    const [owner, ...others] = await registerUsers(inst(0).api, 7);
    const convs = [];
    for (const o of others) convs.push(await createConversation(inst(0).api, owner!, { type: 'direct', memberIds: [o.id] }));
    const page1 = await inst(0).api.get(`${LIST}?limit=3`, owner!.token);
    const cursor = page1.body.pagination.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    const variants = [`${LIST}?limit=3&before=${encodeURIComponent(cursor)}`, `${LIST}?limit=3&offset=3`];
    for (const v of variants) {
      expect((await readUntilHit(inst(0).api, v, owner!.token)).seen.at(-1)).toBe('HIT-L1');
    }
    // A conversation of page 2 gets a message (moves to the top); one of page 1 is deleted... by leaving it.
    const onPage2 = (await inst(0).api.get(variants[1]!, owner!.token)).body.data[0];
    await postMessage(inst(1).api, others.find((o) => onPage2.members.some((m: any) => m.userId === o.id))!, onPage2.id, 'bump');
    await inst(1).api.delete(`${LIST}/${page1.body.data[2].id}/members/${owner!.id}`, owner!.token);
    for (const v of variants) {
      for (const i of [0, 1]) {
        const cached = await inst(i).api.get(v, owner!.token);
        const truth = await oracle().api.get(v, owner!.token);
        expect(truth.headers.get('x-cache')).toBe('BYPASS');
        expect(cached.body).toEqual(truth.body);
      }
    }
    void convs;
  });

  it('isolation: 200 users reading and writing at once on two instances; every body is the caller’s own', async () => {
    const users: TestUser[] = await registerUsers(inst(0).api, 200);
    // Each user is in a direct conversation with the next one (so in exactly two conversations of 2 members).
    // Set-up, not under test: created 20 at a time so that a loaded CI machine does not turn it into an overload test.
    const pairs = await mapLimit(users, 20, async (a, i) => {
      const b = users[(i + 1) % users.length]!;
      const c = await createConversation(inst(i % 2).api, a, { type: 'direct', memberIds: [b.id] });
      return { id: c.id as string, a, b };
    });
    const mine = new Map<string, Set<string>>(users.map((u) => [u.id, new Set()]));
    for (const p of pairs) {
      mine.get(p.a.id)!.add(p.id);
      mine.get(p.b.id)!.add(p.id);
    }
    let checked = 0;
    const checkBody = (u: TestUser, body: any) => {
      expect(body.success).toBe(true);
      expect(body.data).toHaveLength(2);
      for (const item of body.data) {
        expect(mine.get(u.id)!.has(item.id)).toBe(true);
        expect(item.members.map((m: any) => m.userId)).toContain(u.id);
        if (item.lastMessage) expect(mine.get(item.lastMessage.senderId)!.has(item.id)).toBe(true);
      }
      checked++;
    };
    await Promise.all(
      users.map(async (u, i) => {
        const own = pairs[i]!;
        for (let round = 0; round < 3; round++) {
          checkBody(u, (await inst((i + round) % 2).api.get(LIST, u.token)).body);
          const posted = await inst((i + round + 1) % 2).api.post(`${LIST}/${own.id}/messages`, u.token, { content: `from ${u.id} round ${round}` });
          expect(posted.status).toBe(201);
          checkBody(u, (await inst((i + round) % 2).api.get(LIST, u.token)).body);
        }
      }),
    );
    expect(checked).toBe(200 * 6);
    // After the load: every list, on both instances, equals the uncached truth.
    for (const u of users.slice(0, 40)) {
      const truth = (await oracle().api.get(LIST, u.token)).body;
      for (const i of [0, 1]) expect((await inst(i).api.get(LIST, u.token)).body).toEqual(truth);
    }
  }, 120_000);
});
