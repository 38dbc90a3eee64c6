import { createDatabase, PG_ADMIN_URL, type PgDatabase } from '../../support/postgres.js';

/**
 * PostgreSQL for tests. The global setup creates one template database per run (migrations applied);
 * each test file clones it into a database of its own and drops it at the end, so files never see
 * each other's rows. Fails loudly when no server answers: these tests never skip.
 */
export const ADMIN_URL = PG_ADMIN_URL;

export type TestDatabase = PgDatabase;

/** A fresh database cloned from the run's template; `drop()` removes it. */
export function createTestDatabase(template: string): Promise<TestDatabase> {
  return createDatabase({ prefix: template, template, max: 20 });
}
