import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, postMessage, registerUsers } from '../helpers/fixtures.js';
import { captureLogs } from '../helpers/logs.js';
import { TestRedis } from '../helpers/redis.js';

const LIST = '/api/v1/conversations';

describe('without Redis (memory only)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, undefined);
  });
  afterAll(async () => cluster.teardown());

  it('caches in process memory and stays fresh after writes', async () => {
    const api = cluster.instances[0]!.api;
    const [a, b] = await registerUsers(api, 2);
    const g = await createGroup(api, a!, [b!]);
    // The writes installed the list's state in memory: composed from it, then kept.
    expect((await api.get(LIST, b!.token)).headers.get('x-cache')).toBe('HIT-L1');
    expect((await api.get(LIST, b!.token)).headers.get('x-cache')).toBe('HIT-L1');
    await postMessage(api, a!, g.id, 'memory only');
    // A message updates the conversation's state in place: the next read is fresh, with no database query.
    const after = await api.get(LIST, b!.token);
    expect(after.body.data[0].lastMessage.content).toBe('memory only');
    expect(after.headers.get('x-cache')).toBe('HIT-L1');
    expect((await api.get('/ready')).body.redis).toBe('disabled');
  });
});

describe('Redis stopped in the middle of the traffic', () => {
  let cluster: Cluster;
  let redis: TestRedis;
  const logs = captureLogs();
  beforeAll(async () => {
    redis = await TestRedis.start();
    cluster = await startCluster(2, redis.url, { CACHE_LEASE_MS: '1000' }, { logger: logs.logger });
  });
  afterAll(async () => {
    await cluster.teardown();
    await redis.stop();
  });

  it('keeps answering correctly while Redis is down, says so in the logs, and is fresh after it returns', async () => {
    const [a, b] = cluster.instances;
    const [alice, bob] = await registerUsers(a!.api, 2);
    const g = await createGroup(a!.api, alice!, [bob!]);
    await postMessage(a!.api, alice!, g.id, 'before');
    for (const inst of [a!, b!]) {
      await inst.api.get(LIST, bob!.token);
      await inst.api.get(LIST, bob!.token);
    }

    await redis.kill();
    // Reads answer (from the database once the lease lapsed), writes are acknowledged and visible everywhere.
    const posted = await a!.api.post(`${LIST}/${g.id}/messages`, alice!.token, { content: 'during outage' });
    expect(posted.status).toBe(201);
    for (const inst of [a!, b!]) {
      const res = await inst.api.get(LIST, bob!.token);
      expect(res.status).toBe(200);
      expect(res.body.data[0].lastMessage.content).toBe('during outage');
    }
    expect((await b!.api.get('/ready')).body.redis).toBe('down');
    expect(logs.text()).toMatch(/Redis unavailable|L1 lease lapsed/);

    await redis.restart();
    await a!.gw.engine!.ready(10_000);
    await b!.gw.engine!.ready(10_000);
    const again = await b!.api.post(`${LIST}/${g.id}/messages`, bob!.token, { content: 'after recovery' });
    expect(again.status).toBe(201);
    for (const inst of [a!, b!]) {
      for (let i = 0; i < 2; i++) {
        const res = await inst.api.get(LIST, alice!.token);
        expect(res.body.data[0].lastMessage.content).toBe('after recovery');
      }
    }
    expect((await a!.api.get('/ready')).body.redis).toBe('up');
  }, 60_000);
});
