import pg from 'pg';
import { migrate } from '../../../src/db/index.js';
import { createPostgresDb } from '../../../src/db/postgres.js';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface RunDatabase {
  url: string;
  name: string;
  /** False when the database was given (--database-url): it is migrated but never dropped. */
  owned: boolean;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL did not answer at ${adminUrl}: ${String(err)}`);
  }
  try {
    return await client.query(sql, params);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh database on the server of `adminUrl`, migrated; `drop()` removes it. */
export async function createRunDatabase(adminUrl: string, label: string): Promise<RunDatabase> {
  const name = `chatgate_fresh_${label}_${Date.now().toString(36)}_${process.pid}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  const url = withDatabase(adminUrl, name);
  const db = createPostgresDb({ connectionString: url, max: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return {
    url,
    name,
    owned: true,
    async drop() {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** A database the caller gave: migrated (idempotent), never dropped. */
export async function useGivenDatabase(url: string): Promise<RunDatabase> {
  const db = createPostgresDb({ connectionString: url, max: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return { url, name: new URL(url).pathname.slice(1), owned: false, async drop() {} };
}

/** Kills every backend of `database` except the caller's own (the pg-terminate fault). */
export async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  const r = await adminQuery(
    adminUrl,
    `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  return r.rows.filter((x: { t: boolean }) => x.t).length;
}
