import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startGateway, type RunningGateway } from '../../support/gateway.js';
import { testEnv } from '../helpers/config.js';
import { captureLogs } from '../helpers/logs.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

describe('request logs', () => {
  // Debug: the level at which the gateway logs its requests (with their URLs).
  const logs = captureLogs('debug');
  let database: TestDatabase;
  let gateway: RunningGateway;

  beforeAll(async () => {
    database = await createTestDatabase(inject('pgTemplate'));
    gateway = await startGateway(testEnv({ DATABASE_URL: database.url }), { logger: logs.logger });
  });

  afterAll(async () => {
    await gateway?.close();
    await database?.drop();
  });

  it('never show the `token` query parameter (the stream’s browser login), on any route', async () => {
    const stream = await gateway.api.get('/api/v1/stream?token=secret-stream');
    expect(stream.status).toBe(400);
    const list = await gateway.api.get('/api/v1/conversations?limit=5&token=secret-list&x=1');
    expect(list.status).toBe(401);
    const missing = await gateway.api.get('/api/v1/no-such-route?token=secret-missing');
    expect(missing.status).toBe(404);

    const urls = logs
      .lines()
      .map((l) => (l.req as { url?: string } | undefined)?.url)
      .filter((u): u is string => u !== undefined);
    expect(urls).toContain('/api/v1/stream?token=[redacted]');
    expect(urls).toContain('/api/v1/conversations?limit=5&token=[redacted]&x=1');
    expect(urls).toContain('/api/v1/no-such-route?token=[redacted]');
    expect(logs.text()).not.toContain('secret');
  });
});
