import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from '../../support/gateway-process.js';
import { HttpClient } from '../../support/http-client.js';
import { testEnv } from '../helpers/config.js';
import { uniqueNamespace } from '../helpers/cluster.js';
import { registerUser } from '../helpers/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** support/gateway-process.ts: gateways in child processes, configured by environment, over real HTTP. */
describe('support: gateway processes', () => {
  let database: TestDatabase;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    database = await createTestDatabase(inject('pgTemplate'));
    const env = testEnv({ DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, CACHE_NAMESPACE: uniqueNamespace() });
    [a, b] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
  }, 120_000);
  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    await database?.drop();
  });

  it('two processes serve one service: a user registered on one logs in on the other; each reports its engine counters', async () => {
    expect(a.pid).not.toBe(b.pid);
    const user = await registerUser(a.api);
    const login = await b.api.post('/api/v1/auth/login', undefined, { username: user.username, password: 'password-123' });
    expect(login.status, login.text).toBe(200);
    const list = await b.api.get('/api/v1/conversations', login.body.data.token);
    expect(list.status, list.text).toBe(200);
    expect(list.body.data).toEqual([]);
    // The counters the freshness checker waits on (queued invalidations) come over IPC.
    expect(await b.stats()).toEqual(expect.objectContaining({ pendingReplays: 0 }));
  });

  it('reports the memory of its own process (the benchmarks divide it by connections)', async () => {
    const [stats, memory] = await Promise.all([a.stats(), a.memory()]);
    expect(stats).toEqual(expect.objectContaining({ pendingReplays: 0 }));
    expect(memory.heapUsed).toBeGreaterThan(1_000_000);
    expect(memory.heapUsed).toBeLessThanOrEqual(memory.heapTotal);
    expect(memory.rss).toBeGreaterThan(memory.heapUsed);
  });

  it('pause freezes the process (no answer), resume lets it answer again', async () => {
    a.pause();
    const frozen = new HttpClient(a.url, { timeoutMs: 500 });
    await expect(frozen.get('/health')).rejects.toThrow(/no answer within 500 ms/);
    a.resume();
    expect((await a.api.get('/health')).status).toBe(200);
  });

  it('stop closes the gateway and the process exits; kill ends one at once', async () => {
    await a.stop();
    expect(alive(a.pid!)).toBe(false);
    await expect(a.api.get('/health')).rejects.toThrow();
    await b.kill();
    expect(alive(b.pid!)).toBe(false);
    await expect(b.api.get('/health')).rejects.toThrow();
  });
});
