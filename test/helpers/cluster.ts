import { inject } from 'vitest';
import type { GatewayOptions } from '../../src/server.js';
import { startService, type GatewayEnv } from '../../support/gateway.js';
import { testEnv } from './config.js';
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
  env: GatewayEnv;
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
  try {
    const service = await startService(
      n,
      testEnv({ DATABASE_URL: database.url, CACHE_NAMESPACE: uniqueNamespace(), ...(redisUrl ? { REDIS_URL: redisUrl } : {}), ...env }),
      { options: () => options },
    );
    return {
      database,
      instances: service.instances,
      env: service.env,
      addInstance: (opts = options, extraEnv = {}) => service.add(opts, extraEnv),
      async teardown() {
        await service.close();
        await database.drop();
      },
    };
  } catch (err) {
    await database.drop();
    throw err;
  }
}
