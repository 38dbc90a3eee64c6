import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, expectError, postMessage, registerUsers, type TestUser } from '../helpers/fixtures.js';
import { TestRedis } from '../helpers/redis.js';
import { StreamClient } from '../helpers/stream-client.js';

/**
 * Redis is the push's bus and its journal. When it dies, connected clients are told to resync
 * (frames may be missed from then on), requests keep working, nothing crashes; when it returns,
 * writes are pushed again, and positions from before (whose history died with Redis) are refused.
 */

const LIST = '/api/v1/conversations';

describe('the push while Redis is down and after it returns', () => {
  let cluster: Cluster;
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
    cluster = await startCluster(2, redis.url, { CACHE_LEASE_MS: '1000' });
  });
  afterAll(async () => {
    await cluster.teardown();
    await redis.stop();
  });

  it('clients get a resync frame, requests keep working, pushes resume after Redis returns, old positions give 410', async () => {
    const [a, b] = cluster.instances;
    const [alice, bob, carol] = (await registerUsers(a!.api, 3)) as [TestUser, TestUser, TestUser];
    const g = await createGroup(a!.api, alice, [bob, carol], 'Outage');
    const stream = await StreamClient.connect(b!.url, bob.token);
    const before = await postMessage(a!.api, alice, g.id, 'before');
    const seen = await stream.waitFor((f) => f.type === 'message' && f.messageId === before.id);
    // Carol saw the same write, went away, and misses the next one; its note dies with Redis.
    const carolsPosition = seen.position!;
    await postMessage(a!.api, alice, g.id, 'carol misses this');

    await redis.kill();
    const resync = await stream.waitFor((f) => f.type === 'resync', 15_000, 'a resync frame');
    expect(resync).toEqual({ type: 'resync', reason: expect.any(String) });

    // Requests keep working: writes are acknowledged, lists are fresh on both instances.
    const during = await a!.api.post(`${LIST}/${g.id}/messages`, alice.token, { content: 'during the outage' });
    expect(during.status, during.text).toBe(201);
    for (const inst of [a!, b!]) {
      const res = await inst.api.get(LIST, bob.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body.data[0].lastMessage.content).toBe('during the outage');
    }
    // The change history cannot be read: the client is told to reload (410) or to retry (503), never a 500.
    const changes = await b!.api.get(`${LIST}/changes?since=${encodeURIComponent(carolsPosition)}`, carol.token);
    expect([410, 503], changes.text).toContain(changes.status);
    expectError(changes, changes.status, changes.status === 410 ? 'RESYNC_REQUIRED' : 'UNAVAILABLE');
    // A new stream either starts or is closed cleanly with "retry later".
    const late = await StreamClient.open(b!.url, { header: carol.token });
    const outcome = await late.waitFor((f) => f.type === 'ready').then(
      () => 'ready',
      () => late.closedWith?.code,
    );
    expect(['ready', 1001]).toContain(outcome);
    await late.close();
    expect((await a!.api.get('/health')).status).toBe(200);

    await redis.restart();
    await a!.gw.engine!.ready(15_000);
    await b!.gw.engine!.ready(15_000);
    const after = await postMessage(a!.api, alice, g.id, 'after recovery');
    // The connection opened before the outage is pushed to again.
    expect(stream.closedWith).toBeUndefined();
    const pushed = await stream.waitFor((f) => f.type === 'message' && f.messageId === after.id, 15_000, 'the message after recovery');
    expect(pushed.message).toEqual(after);
    const item = await stream.waitFor((f) => f.type === 'conversation' && f.item.lastMessage?.id === after.id);
    const list = await b!.api.get(LIST, bob.token);
    expect(list.body.data.find((c: any) => c.id === g.id)).toEqual(item.item);

    // Positions from before the outage: their history died with Redis, resuming from them would miss writes.
    for (const user of [carol, bob]) {
      expectError(await a!.api.get(`${LIST}/changes?since=${encodeURIComponent(carolsPosition)}`, user.token), 410, 'RESYNC_REQUIRED');
    }
    // A position from now on resumes.
    const head = await a!.api.get(`${LIST}/changes`, carol.token);
    expect(head.status, head.text).toBe(200);
    const next = await postMessage(b!.api, bob, g.id, 'resumable again');
    const resumed = await a!.api.get(`${LIST}/changes?since=${encodeURIComponent(head.body.data.position)}`, carol.token);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.data.changed.find((c: any) => c.id === g.id).lastMessage.id).toBe(next.id);
    await stream.close();
  }, 90_000);

  it('Redis restarted empty with no write in between: a position from before gives 410, not a silent gap', async () => {
    const [a, b] = cluster.instances;
    const [alice, bob] = (await registerUsers(a!.api, 2)) as [TestUser, TestUser];
    const g = await createGroup(a!.api, alice, [bob], 'Lost history');
    const other = await createGroup(a!.api, alice, [bob], 'Changed while away');
    const stream = await StreamClient.connect(b!.url, bob.token);
    const seen = await postMessage(a!.api, alice, g.id, 'seen');
    const position = (await stream.waitFor((f) => f.type === 'message' && f.messageId === seen.id)).position!;
    await stream.close();
    // Bob misses this one; its note is in the journal only, and no later write touches that conversation.
    await postMessage(a!.api, alice, other.id, 'missed');

    await redis.kill();
    await redis.restart();
    await a!.gw.engine!.ready(15_000);
    await b!.gw.engine!.ready(15_000);
    // A write after the restart: the journal has notes again, newer than the position.
    await postMessage(b!.api, alice, g.id, 'after the restart');
    for (const inst of [a!, b!]) {
      expectError(await inst.api.get(`${LIST}/changes?since=${encodeURIComponent(position)}`, bob.token), 410, 'RESYNC_REQUIRED');
    }
  }, 60_000);
});
