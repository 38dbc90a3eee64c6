import pg from 'pg';
import { migrate, type Db } from '../src/db/index.js';
import { createPostgresDb } from '../src/db/postgres.js';

/**
 * Throwaway PostgreSQL databases for tests, benchmarks and checkers, made on one server (the admin
 * URL: TEST_PG_ADMIN_URL, else the local server as `postgres`). Each is created fresh under a name of
 * its own and dropped at the end; a server that does not answer is an error, never a reason to skip.
 */
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** `serverUrl` (any database on the server) pointing at `database` instead. */
export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** `url` with every connection's search_path set to `schema` (several datasets in one database). */
export function withSearchPath(url: string, schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name: ${schema}`);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** Runs one statement on the admin URL's database (`postgres` when the URL names none). */
export async function adminQuery<R = Record<string, unknown>>(sql: string, params: unknown[] = [], adminUrl = PG_ADMIN_URL): Promise<R[]> {
  const u = new URL(adminUrl);
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  // A backend terminated while this client is open must fail the query, not the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL did not answer at ${u.host} (a server is required; TEST_PG_ADMIN_URL names another): ${String(err)}`);
  }
  try {
    return (await client.query(sql, params)).rows as R[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A PostgreSQL database and a pool on it. */
export interface PgDatabase {
  name: string;
  url: string;
  /** A pool on the database (connections are opened on first use). */
  db: Db;
  /** False for a database the caller gave (`useDatabase`): never dropped. */
  owned: boolean;
  /** Closes the pool (a template must have no connection when it is cloned). Safe to call twice. */
  close(): Promise<void>;
  /** Closes the pool and drops the database if it was created here. Safe to call twice. */
  drop(): Promise<void>;
}

export interface DatabaseOptions {
  /** Start of the database's name (the rest makes it unique). Default `chatgate`. */
  prefix?: string;
  /** Clone this database (`CREATE DATABASE … TEMPLATE`) instead of creating an empty one. */
  template?: string;
  /** Apply the migrations. Default: true for a new empty database, false for a clone. */
  migrate?: boolean;
  /** The pool's size (default 4) and statement timeout (default the driver's). */
  max?: number;
  statementTimeoutMs?: number;
  /** The server to create it on (default PG_ADMIN_URL). */
  adminUrl?: string;
}

let counter = 0;

function uniqueName(prefix: string): string {
  const name = `${prefix}_${Date.now().toString(36)}_${process.pid.toString(36)}_${++counter}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (name.length > 63) throw new Error(`database name ${name} is longer than PostgreSQL's 63 bytes: use a shorter prefix`);
  return name;
}

function withPool(name: string, url: string, owned: boolean, opts: DatabaseOptions, dropDatabase: () => Promise<void>): PgDatabase {
  const db = createPostgresDb({ connectionString: url, max: opts.max ?? 4, ...(opts.statementTimeoutMs ? { statementTimeoutMs: opts.statementTimeoutMs } : {}) });
  let closed: Promise<void> | undefined;
  let dropped: Promise<void> | undefined;
  const close = () => (closed ??= db.close().catch(() => undefined));
  return {
    name,
    url,
    db,
    owned,
    close,
    drop: () =>
      (dropped ??= (async () => {
        await close();
        await dropDatabase();
      })()),
  };
}

/** A new database (empty and migrated, or a clone of `template`); `drop()` removes it. */
export async function createDatabase(opts: DatabaseOptions = {}): Promise<PgDatabase> {
  const adminUrl = opts.adminUrl ?? PG_ADMIN_URL;
  const name = uniqueName(opts.prefix ?? 'chatgate');
  await adminQuery(opts.template ? `CREATE DATABASE "${name}" TEMPLATE "${opts.template}"` : `CREATE DATABASE "${name}"`, [], adminUrl);
  const database = withPool(name, databaseUrl(adminUrl, name), true, opts, async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, [], adminUrl);
  });
  try {
    if (opts.migrate ?? !opts.template) await migrate(database.db);
  } catch (err) {
    await database.drop().catch(() => undefined);
    throw err;
  }
  return database;
}

/** A database the caller gave (by URL): migrated (idempotent), never dropped. */
export async function useDatabase(url: string, opts: Pick<DatabaseOptions, 'max' | 'statementTimeoutMs'> = {}): Promise<PgDatabase> {
  const database = withPool(new URL(url).pathname.slice(1), url, false, opts, async () => undefined);
  try {
    await migrate(database.db);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}

/** Kills every backend of `database` except the caller's own (a database fault); returns how many. */
export async function terminateBackends(database: string, adminUrl = PG_ADMIN_URL): Promise<number> {
  const rows = await adminQuery<{ t: boolean }>(
    'SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
    adminUrl,
  );
  return rows.filter((r) => r.t).length;
}
