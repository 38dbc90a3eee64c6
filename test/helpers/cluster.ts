import { inject } from 'vitest';
import type { GatewayOptions } from '../../src/server.js';
import { createGateway } from '../../src/server.js';
import { ApiClient } from './client.js';
import { testConfig } from './config.js';
import type { RunningGateway } from './gateway.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

let seq = 0;

/** A Redis key namespace of its own, so that test files sharing one Redis never see each other. */
export function uniqueNamespace(): string {
  return `t${process.pid}x${Date.now().toString(36)}x${++seq}`;
}

export interface Cluster {
  database: TestDatabase;
  instances: RunningGateway[];
  env: Record<string, string>;
  /** Starts one more instance of the same service. */
  addInstance(options?: GatewayOptions, extraEnv?: Record<string, string>): Promise<RunningGateway>;
  teardown(): Promise<void>;
}

/** N gateway instances of one service: one PostgreSQL database, one Redis, one cache namespace. */
export async function startCluster(
  n: number,
  redisUrl: string | undefined,
  env: Record<string, string> = {},
  options: GatewayOptions = {},
): Promise<Cluster> {
  const database = await createTestDatabase(inject('pgTemplate'));
  const shared: Record<string, string> = {
    DATABASE_URL: database.url,
    CACHE_NAMESPACE: uniqueNamespace(),
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...env,
  };
  const instances: RunningGateway[] = [];
  const addInstance = async (opts: GatewayOptions = options, extraEnv: Record<string, string> = {}) => {
    const gw = await createGateway(testConfig({ ...shared, ...extraEnv }), opts);
    const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const running: RunningGateway = { gw, url, api: new ApiClient(url), close: () => gw.close() };
    instances.push(running);
    // A new instance serves from its memory only once its lease proves the bus alive.
    await gw.engine?.ready(10_000);
    return running;
  };
  for (let i = 0; i < n; i++) await addInstance();
  return {
    database,
    instances,
    env: shared,
    addInstance,
    async teardown() {
      for (const i of instances) await i.close().catch(() => undefined);
      await database.drop();
    },
  };
}
