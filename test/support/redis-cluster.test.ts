import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster, type ClusterNode } from '../../support/redis-cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `fn` until it succeeds, for at most `ms` (a client catching up with a new topology). */
async function eventually<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/**
 * support/redis-cluster.ts: a real Redis Cluster (3 masters, a replica each) started by the test, used
 * through ioredis' Cluster client, with one master killed and its replica promoted.
 */
describe('support: Redis Cluster harness', () => {
  let cluster: RedisCluster;
  let client: InstanceType<typeof Redis.Cluster>;
  /** A key per master, and the master that served it at the start. */
  const keys = new Map<string, ClusterNode>();

  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
    client = new Redis.Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    client.on('error', () => undefined); // the killed master's connection, on purpose
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('forms 3 masters with one replica each, every slot served once', async () => {
    const nodes = await cluster.topology();
    expect(nodes).toHaveLength(6);
    expect(cluster.addresses).toHaveLength(6);
    const masters = nodes.filter((n) => n.role === 'master');
    const replicas = nodes.filter((n) => n.role === 'replica');
    expect(masters).toHaveLength(3);
    expect(replicas.map((r) => r.masterId).sort()).toEqual(masters.map((m) => m.id).sort());
    const served = masters.flatMap((m) => m.slots).sort((a, b) => a[0] - b[0]);
    let next = 0;
    for (const [first, last] of served) {
      expect(first).toBe(next);
      next = last + 1;
    }
    expect(next).toBe(16384);
  });

  it('SET and GET through the cluster client land on every master (each key is on the master the harness names)', async () => {
    for (let i = 0; keys.size < 3 && i < 1000; i++) {
      const key = `k${i}`;
      const master = await cluster.masterForKey(key);
      if (![...keys.values()].some((m) => m.id === master.id)) keys.set(key, master);
    }
    expect(keys.size).toBe(3);
    for (const [key, master] of keys) {
      expect(await client.set(key, `v-${key}`)).toBe('OK');
      expect(await client.get(key)).toBe(`v-${key}`);
      // Straight to that master, outside the cluster client: the key is there (another node would answer MOVED).
      const direct = master.server.client();
      try {
        expect(await direct.get(key)).toBe(`v-${key}`);
      } finally {
        direct.disconnect();
      }
    }
  });

  it('mastersByKeys counts each master’s keys (DBSIZE), most first', async () => {
    const sized = await cluster.mastersByKeys();
    expect(sized.map((s) => s.node.role)).toEqual(['master', 'master', 'master']);
    // One key per master was written above, and a few more on the first key's master.
    const [firstKey, firstMaster] = [...keys.entries()][0]!;
    for (let i = 0; i < 5; i++) await client.set(`{${firstKey}}extra${i}`, 'x');
    expect(sized.every((s) => s.keys >= 1)).toBe(true);
    const again = await cluster.mastersByKeys();
    expect(again[0]!.node.id).toBe(firstMaster.id);
    expect(again[0]!.keys).toBe(6);
    for (let i = 0; i < 5; i++) await client.del(`{${firstKey}}extra${i}`);
  });

  it('a master killed: its replica is promoted, the client works again, and what the replica had is kept', async () => {
    const [key, victim] = [...keys.entries()][0]!;
    const replica = (await cluster.topology()).find((n) => n.masterId === victim.id)!;
    // Replication is asynchronous: the write is kept only once the replica has it.
    const onReplica = replica.server.client();
    try {
      await onReplica.call('READONLY');
      await eventually(5000, async () => expect(await onReplica.get(key)).toBe(`v-${key}`));
    } finally {
      onReplica.disconnect();
    }

    const { promoted, ms } = await cluster.failover(victim, 20_000);
    expect(victim.server.isRunning).toBe(false);
    expect(ms).toBeGreaterThan(0);
    expect(promoted.id).toBe(replica.id);
    expect(promoted.role).toBe('master');
    expect((await cluster.masterForKey(key)).id).toBe(replica.id);

    expect(await eventually(10_000, () => client.get(key))).toBe(`v-${key}`);
    expect(await client.set(key, 'after-failover')).toBe('OK');
    expect(await client.get(key)).toBe('after-failover');
    for (const [other] of [...keys.entries()].slice(1)) expect(await client.get(other)).toBe(`v-${other}`);
  }, 60_000);
});
