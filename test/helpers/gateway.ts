import { inject } from 'vitest';
import { createGateway, type Gateway } from '../../src/server.js';
import { ApiClient } from './client.js';
import { testConfig } from './config.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type Backend = 'postgres' | 'pglite';
/** The HTTP suites run against both: real PostgreSQL, and the embedded database `npm start` uses. */
export const BACKENDS: Backend[] = ['postgres', 'pglite'];

export interface RunningGateway {
  gw: Gateway;
  url: string;
  api: ApiClient;
  close(): Promise<void>;
}

/** A gateway listening on a free port, with the given environment on top of the test defaults. */
export async function startGateway(env: Record<string, string | undefined>): Promise<RunningGateway> {
  const gw = await createGateway(testConfig(env));
  const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  return { gw, url, api: new ApiClient(url), close: () => gw.close() };
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
export async function setupEnv(backend: Backend, env: Record<string, string | undefined> = {}): Promise<TestEnv & { teardown(): Promise<void> }> {
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
