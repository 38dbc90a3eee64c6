import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublicationOutbox } from '../../src/conversation-list/outbox.js';
import { bumpConversationsShowing } from '../../src/store/list-state.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, postMessage, readUntilHit, registerUsers, type TestUser } from '../helpers/fixtures.js';
import { captureLogs } from '../helpers/logs.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const LIST = '/api/v1/conversations';

/**
 * The publication outbox: a process that dies between its commit and the publication of the new list
 * state leaves a row, and another instance replays it, so a crash cannot leave an old version cached
 * until the TTL. "Dies after commit" is reproduced exactly: a change committed (with its versions bumped,
 * as the domain does) with its outbox row, and no publication.
 */
describe('publication outbox: an instance that died between commit and publication', () => {
  let cluster: Cluster;
  let alice: TestUser, bob: TestUser;
  let group: any;
  const logs = captureLogs('warn');
  beforeAll(async () => {
    // Generous Redis timeout and lease: on a loaded machine a 50 ms timeout makes an invalidation
    // degrade and be replayed later, which would drop the entry the control below expects to stay.
    // Timeouts and lapses have tests of their own; this one is about the outbox alone.
    const env = { CACHE_OUTBOX_REPLAY_AFTER_MS: '300', CACHE_REDIS_TIMEOUT_MS: '2000', CACHE_LEASE_MS: '10000' };
    cluster = await startCluster(2, SHARED_REDIS_URL, env, { logger: logs.logger });
    [alice, bob] = (await registerUsers(cluster.instances[0]!.api, 2)) as [TestUser, TestUser];
    group = await createGroup(cluster.instances[0]!.api, alice, [bob], 'Outbox');
    await postMessage(cluster.instances[0]!.api, alice, group.id, 'hello');
  });
  afterAll(async () => cluster.teardown());

  /** Bob's list is cached on both instances, showing Alice's current name. */
  async function primeBob(): Promise<void> {
    for (const inst of cluster.instances) expect((await readUntilHit(inst.api, LIST, bob.token)).seen.at(-1)).toBe('HIT-L1');
  }
  const rename = (name: string, withOutboxRow: boolean) =>
    cluster.database.db.transaction(async (tx) => {
      await tx.query('UPDATE users SET display_name = $2 WHERE id = $1', [alice.id, name]);
      const conversationIds = await bumpConversationsShowing(tx, alice.id);
      if (withOutboxRow) new PublicationOutbox(cluster.database.db, logs.logger).record(tx, { userIds: [], conversationIds });
    });
  const senderName = async (i: number) => {
    const res = await cluster.instances[i]!.api.get(LIST, bob.token);
    return { name: res.body.data[0].lastMessage.sender.displayName as string, cache: res.headers.get('x-cache') };
  };
  const outboxRows = async () => Number((await cluster.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM cache_invalidations')).rows[0]!.n);

  /** The group's state as stored in L2 (Redis): what survives any instance's restart or lapse. */
  const groupInL2 = async (): Promise<string | null> => {
    const redis = new Redis(SHARED_REDIS_URL);
    try {
      return await redis.hget(`${cluster.env.CACHE_NAMESPACE}:cl5:{c:${group.id}}`, 'v');
    } finally {
      redis.disconnect();
    }
  };

  /** No row left by the set-up's writes (one could still be replayed, and drop Bob's lists). */
  async function noRowsLeft(): Promise<void> {
    const deadline = Date.now() + 5000;
    while ((await outboxRows()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await outboxRows()).toBe(0);
  }

  it('without an outbox row the old version would stay cached (the control: what the outbox prevents)', async () => {
    await noRowsLeft();
    await primeBob();
    const stored = await groupInL2();
    expect(stored).not.toBeNull();
    await rename('Alice Unannounced', false);
    await new Promise((r) => setTimeout(r, 1200)); // past several sweeps (every 60 ms) and the replay delay (300 ms)
    // Still stored in Redis at the old version, for the TTL (a day), and served: nothing else would replace it.
    expect(await groupInL2()).toBe(stored);
    expect((await senderName(0)).name).not.toBe('Alice Unannounced');
    // Put things right for the next test.
    await cluster.instances[0]!.gw.listCache!.republish({ userIds: [], conversationIds: [group.id] });
    expect(Number(await groupInL2())).toBeGreaterThan(Number(stored));
  });

  it('with the row committed alongside, another instance replays it: every instance serves the change', async () => {
    await primeBob();
    await rename('Alice Recovered', true);
    expect(await outboxRows()).toBe(1);
    const deadline = Date.now() + 10_000;
    let seen: Array<{ name: string; cache: string | null }> = [];
    while (Date.now() < deadline) {
      seen = [await senderName(0), await senderName(1)];
      if (seen.every((s) => s.name === 'Alice Recovered')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.map((s) => s.name)).toEqual(['Alice Recovered', 'Alice Recovered']);
    // The sweeper publishes, then deletes the row in the same transaction: the instances may serve the
    // change a moment before that transaction commits (CI saw the row still there once).
    await noRowsLeft();
    expect(logs.text()).toContain('[CACHE-OUTBOX] replayed orphaned publications');
  });

  it('a normal write leaves no row behind once its publication is done', async () => {
    const replays = () => logs.text().split('[CACHE-OUTBOX] replayed').length;
    const before = replays();
    await postMessage(cluster.instances[1]!.api, bob, group.id, 'no debt');
    await noRowsLeft();
    // Removed as completed, not replayed as an orphan.
    expect(replays()).toBe(before);
  });
});
