import pg from 'pg';
import { migrate, type Db } from '../../src/db/index.js';
import { createPostgresDb } from '../../src/db/postgres.js';

/**
 * Throwaway PostgreSQL databases for benchmarks, on the same server the tests use:
 * BENCH_PG_ADMIN_URL, else TEST_PG_ADMIN_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
export const BENCH_ADMIN_URL =
  process.env.BENCH_PG_ADMIN_URL ?? process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function benchUrlFor(database: string, adminUrl = BENCH_ADMIN_URL): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function adminExec(sql: string, adminUrl = BENCH_ADMIN_URL): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL did not answer at ${adminUrl}: ${String(err)}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  name: string;
  url: string;
  db: Db;
  /** Closes the pool and drops the database. Safe to call twice. */
  drop(): Promise<void>;
}

/** `url` with every connection's search_path set to `schema` (one dataset per schema in one database). */
export function withSearchPath(url: string, schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name: ${schema}`);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** Creates `<prefix>_<timestamp>`, migrates it (unless `migrate: false`), and opens a pool on it. */
export async function createBenchDatabase(
  prefix: string,
  opts: { adminUrl?: string; max?: number; statementTimeoutMs?: number; migrate?: boolean } = {},
): Promise<BenchDatabase> {
  const adminUrl = opts.adminUrl ?? BENCH_ADMIN_URL;
  const name = `${prefix}_${Date.now().toString(36)}`;
  await adminExec(`CREATE DATABASE "${name}"`, adminUrl);
  const url = benchUrlFor(name, adminUrl);
  const db = createPostgresDb({
    connectionString: url,
    max: opts.max ?? 4,
    statementTimeoutMs: opts.statementTimeoutMs ?? 600_000,
  });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await db.close().catch(() => {});
    await adminExec(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, adminUrl);
  };
  try {
    if (opts.migrate ?? true) await migrate(db);
  } catch (err) {
    await drop();
    throw err;
  }
  return { name, url, db, drop };
}
