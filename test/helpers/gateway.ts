import { inject } from 'vitest';
import { startGateway as startHarnessGateway, type GatewayEnv, type RunningGateway } from '../../support/gateway.js';
import type { ApiClient } from './client.js';
import { testEnv } from './config.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type { RunningGateway } from '../../support/gateway.js';

export type Backend = 'postgres' | 'pglite';
/** The HTTP suites run against both: real PostgreSQL, and the embedded database `npm start` uses. */
export const BACKENDS: Backend[] = ['postgres', 'pglite'];

/** A gateway listening on a free port, with the given environment on top of the test defaults. */
export function startGateway(env: GatewayEnv): Promise<RunningGateway> {
  return startHarnessGateway(testEnv(env));
}

export interface TestEnv {
  backend: Backend;
  /** PostgreSQL only: the database of this test file. */
  database: TestDatabase | undefined;
  gateway: RunningGateway;
  api: ApiClient;
}

/**
 * A fresh database (cloned from the run's template, or an in-memory PGlite) and a gateway on it.
 * Call in beforeAll; `teardown` in afterAll.
 */
export async function setupEnv(backend: Backend, env: GatewayEnv = {}): Promise<TestEnv & { teardown(): Promise<void> }> {
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
