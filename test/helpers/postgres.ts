import pg from 'pg';
import { createPostgresDb } from '../../src/db/postgres.js';
import type { Db } from '../../src/db/index.js';

/**
 * PostgreSQL for tests. The global setup creates one template database per run (migrations applied);
 * each test file clones it into a database of its own and drops it at the end, so files never see
 * each other's rows. Fails loudly when no server answers: these tests never skip.
 */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is required for the tests and did not answer at ${ADMIN_URL}: ${String(err)}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let counter = 0;

export interface TestDatabase {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A fresh database cloned from the run's template; `drop()` removes it. */
export async function createTestDatabase(template: string): Promise<TestDatabase> {
  const name = `${template}_f${process.pid}_${++counter}`;
  await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  const url = urlFor(name);
  const db = createPostgresDb({ connectionString: url, max: 20 });
  return {
    name,
    url,
    db,
    async drop() {
      await db.close();
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
