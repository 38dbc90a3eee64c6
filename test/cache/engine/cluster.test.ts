import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCluster } from '../../../support/redis-cluster.js';
import { Engines, KIND, Source, peekOne, readOne, uniqueNamespace } from './helpers.js';

/**
 * The engine on a real Redis Cluster whose topology changes under it (a slot moved, as a resharding
 * or a failover does): the client's slot map is stale until a MOVED reply corrects it.
 */
describe('cache engine on a Redis Cluster whose slots move', () => {
  let cluster: RedisCluster;
  const engines = new Engines();
  beforeAll(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicas: 0 });
  }, 60_000);
  afterAll(async () => cluster?.stop());

  it('a write whose broadcast meets the moved coordination slot (MOVED, in one pipeline with an install that succeeded) still reaches the other instance before it resolves', async () => {
    const namespace = uniqueNamespace();
    const coordKey = `${namespace}:{coord}:registry`;
    const coordMaster = await cluster.masterForKey(coordKey);
    // A piece on the same master: the write's install and its broadcast go out in one pipeline.
    let id = '';
    for (let i = 0; !id; i++) if ((await cluster.masterForKey(`${namespace}:{${KIND}:p${i}}`)).id === coordMaster.id) id = `p${i}`;
    // A long lease: no renewal corrects the writer's slot map between the move and the write.
    const opts = { namespace, redis: { cluster: cluster.startupNodes }, leaseMs: 30_000, redisTimeoutMs: 500, ackTimeoutMs: 5000 };
    const a = engines.make({ ...opts, name: 'a' });
    const b = engines.make({ ...opts, name: 'b' });
    await Promise.all([a.ready(10_000), b.ready(10_000)]);
    const db = new Source();
    db.set(id, 1, 'v1');
    await readOne(b, id, db.loader);
    expect(peekOne(b, id)).toEqual([1, 'v1']);

    const other = (await cluster.topology()).find((n) => n.role === 'master' && n.id !== coordMaster.id)!;
    const moved = await cluster.moveSlotOf(coordKey, other);
    expect(moved.from.id).toBe(coordMaster.id);
    expect((await cluster.masterForKey(coordKey)).id).toBe(other.id);

    const report = await db.write(a, id, 2, 'v2');
    expect(report).toMatchObject({ degraded: false, acks: 1 });
    // b heard it: it serves the new version (an instance not told would still serve v1 from L1).
    expect(peekOne(b, id)).toEqual([2, 'v2']);
    expect(a.stats().pendingReplays).toBe(0);
  }, 60_000);
});
