import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userGroup } from '../../src/conversation-list/keys.js';
import { InvalidationOutbox } from '../../src/conversation-list/outbox.js';
import { coMemberIds } from '../../src/store/users.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, postMessage, readUntilHit, registerUsers, type TestUser } from '../helpers/fixtures.js';
import { captureLogs } from '../helpers/logs.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const LIST = '/api/v1/conversations';

/**
 * The invalidation outbox: a process that dies between its commit and its invalidation leaves a row,
 * and another instance replays it, so a crash cannot leave a stale list cached until the TTL.
 * "Dies after commit" is reproduced exactly: a change committed with its outbox row, and no invalidation.
 */
describe('invalidation outbox: an instance that died between commit and invalidation', () => {
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
      if (withOutboxRow) await new InvalidationOutbox(cluster.database.db, logs.logger).record(tx, await coMemberIds(tx, alice.id));
    });
  const senderName = async (i: number) => {
    const res = await cluster.instances[i]!.api.get(LIST, bob.token);
    return { name: res.body.data[0].lastMessage.sender.displayName as string, cache: res.headers.get('x-cache') };
  };
  const outboxRows = async () => Number((await cluster.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM cache_invalidations')).rows[0]!.n);

  /** Whether Bob's lists are stored in L2 (Redis): what survives any instance's restart or lapse. */
  const bobInL2 = async () => {
    const redis = new Redis(SHARED_REDIS_URL);
    try {
      return (await redis.exists(`${cluster.env.CACHE_NAMESPACE}:cl:{u:${bob.id}}:e`)) === 1;
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

  it('without an outbox row the stale list would stay cached (the control: what the outbox prevents)', async () => {
    await noRowsLeft();
    await primeBob();
    expect(await bobInL2()).toBe(true);
    await rename('Alice Unannounced', false);
    await new Promise((r) => setTimeout(r, 1200)); // past several sweeps (every 60 ms) and the replay delay (300 ms)
    // Still stored in Redis, with the old name, for the TTL (a day): nothing else would ever drop it.
    expect(await bobInL2()).toBe(true);
    // Put things right for the next test.
    await cluster.instances[0]!.gw.listCache!.invalidateUsers([bob.id]);
    expect(await bobInL2()).toBe(false);
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
    // Dropped from Redis too (or stored again since, with the new name, as the reads above show).
    expect(await outboxRows()).toBe(0);
    expect(logs.text()).toContain('[CACHE-OUTBOX] replayed orphaned invalidations');
  });

  it('a write whose hold is already in Redis before its commit needs no row; one whose hold is not, does', async () => {
    await noRowsLeft();
    const cache = cluster.instances[0]!.gw.listCache!;
    const event = { kind: 'user.updated' as const, actorId: alice.id, conversationId: null, affectedUserIds: [alice.id, bob.id] };
    const write = async (waitForHold: boolean) => {
      let hold!: ReturnType<typeof cache.begin>;
      const recorded = await cluster.database.db.transaction(async (tx) => {
        // Begun inside the transaction, with no wait before inTransaction() unless asked for.
        hold = cache.begin(event.affectedUserIds);
        if (waitForHold) {
          const deadline = Date.now() + 5000;
          while (!hold.inRedis(event.affectedUserIds.map(userGroup)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        }
        return cache.inTransaction(tx, event, hold);
      });
      const rows = await outboxRows();
      await cache.afterCommit(event, { begun: hold, recorded });
      return { recorded, rows };
    };
    // Right after begin() the hold script cannot have run: the debt is recorded with the commit.
    const early = await write(false);
    expect(typeof early.recorded).toBe('string');
    expect(early.rows).toBe(1);
    await noRowsLeft();
    // Once Redis holds every affected list, a crash after the commit leaves nothing stale: no row.
    const late = await write(true);
    expect(late).toEqual({ recorded: undefined, rows: 0 });
  });

  it('a normal write leaves no row behind once its invalidation is done', async () => {
    const replays = () => logs.text().split('[CACHE-OUTBOX] replayed').length;
    const before = replays();
    await postMessage(cluster.instances[1]!.api, bob, group.id, 'no debt');
    await noRowsLeft();
    // Removed as completed, not replayed as an orphan.
    expect(replays()).toBe(before);
  });
});
