import { inject } from 'vitest';
import { startGateway as startHarnessGateway, startService, type GatewayEnv, type RunningGateway } from '../../support/gateway.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { AlternatingClient, type ApiClient } from './client.js';
import { uniqueNamespace } from './cluster.js';
import { testEnv } from './config.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type { RunningGateway } from '../../support/gateway.js';

export type Backend = 'postgres' | 'pglite';
/** The HTTP suites run against both: real PostgreSQL, and the embedded database `npm start` uses. */
export const BACKENDS: Backend[] = ['postgres', 'pglite'];
/**
 * Where a contract suite runs: each backend with one gateway, and 'redis-cluster': two gateways on
 * PostgreSQL sharing a Redis Cluster of 3 masters (started for the file), requests alternating
 * between them.
 */
export type Setup = Backend | 'redis-cluster';
export const SETUPS_WITH_CLUSTER: Setup[] = [...BACKENDS, 'redis-cluster'];

/** A gateway listening on a free port, with the given environment on top of the test defaults. */
export function startGateway(env: GatewayEnv): Promise<RunningGateway> {
  return startHarnessGateway(testEnv(env));
}

export interface TestEnv {
  backend: Setup;
  /** PostgreSQL only: the database of this test file. */
  database: TestDatabase | undefined;
  /** The first instance ('redis-cluster': of two). */
  gateway: RunningGateway;
  api: ApiClient;
}

/**
 * A fresh database (cloned from the run's template, or an in-memory PGlite) and a gateway on it.
 * Call in beforeAll; `teardown` in afterAll.
 */
export async function setupEnv(backend: Setup, env: GatewayEnv = {}): Promise<TestEnv & { teardown(): Promise<void> }> {
  if (backend === 'redis-cluster') return setupClusterEnv(env);
  let database: TestDatabase | undefined;
  let gateway: RunningGateway;
  if (backend === 'postgres') {
    database = await createTestDatabase(inject('pgTemplate'));
    gateway = await startGateway({ DATABASE_URL: database.url, ...env });
  } else {
    // DATA_DIR unset in the gateway → memory-only PGlite (see openDb): a fresh embedded database.
    gateway = await startGateway({ DATA_DIR: 'memory://', ...env });
  }
  return {
    backend,
    database,
    gateway,
    api: gateway.api,
    async teardown() {
      await gateway.close();
      await database?.drop();
    },
  };
}

/** Two instances on a fresh PostgreSQL database and a Redis Cluster of their own; fails loudly if none forms. */
async function setupClusterEnv(env: GatewayEnv): Promise<TestEnv & { teardown(): Promise<void> }> {
  const redis = await RedisCluster.start({ masters: 3, replicas: 0 });
  let database: TestDatabase | undefined;
  try {
    database = await createTestDatabase(inject('pgTemplate'));
    const service = await startService(
      2,
      testEnv({ DATABASE_URL: database.url, CACHE_NAMESPACE: uniqueNamespace(), REDIS_CLUSTER_NODES: redis.addresses.join(','), ...env }),
    );
    for (const i of service.instances) {
      const ready = await i.api.get('/ready');
      if (ready.body?.redis !== 'up') {
        await service.close();
        throw new Error(`a gateway on the Redis Cluster is not up: /ready ${ready.status} ${ready.text}`);
      }
    }
    const db = database;
    return {
      backend: 'redis-cluster',
      database,
      gateway: service.instances[0]!,
      api: new AlternatingClient(service.instances.map((i) => i.url)),
      async teardown() {
        await service.close();
        await db.drop();
        await redis.stop();
      },
    };
  } catch (err) {
    await database?.drop();
    await redis.stop();
    throw err;
  }
}
