import type { Db } from './db.js';
import { createPgliteDb } from './pglite.js';
import { createPostgresDb } from './postgres.js';

export type { Db, Queryable, QueryResult, Transaction } from './db.js';
export { migrate } from './migrate.js';

export interface DbConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  pool: { max: number; timeoutMs: number };
}

/**
 * PostgreSQL when a URL is configured, embedded PGlite under DATA_DIR otherwise
 * (`DATA_DIR=memory://`: an embedded database that lives in memory only).
 */
export async function openDb(cfg: DbConfig, onError?: (err: Error) => void): Promise<Db> {
  if (cfg.databaseUrl) return createPostgresDb({ connectionString: cfg.databaseUrl, max: cfg.pool.max, connectTimeoutMs: cfg.pool.timeoutMs }, onError);
  return createPgliteDb(cfg.dataDir.startsWith('memory://') ? undefined : `${cfg.dataDir}/pg`);
}
