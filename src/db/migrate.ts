import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

// Migrations are plain .sql files next to this module, applied in name order, each once.
const dir = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * Replicas started together on one new database all migrate at startup: without a lock, two of them
 * create the same tables at once and one fails on a catalog unique index. One transaction-scoped
 * advisory lock on a fixed key serialises them: the first applies what is missing, the others wait
 * and then find it done. Taken in the transaction that applies the migrations, so it lives on that one
 * connection and is released by its commit or rollback, whatever happens to the process. PGlite takes
 * the same lock (one process: it never waits).
 */
const MIGRATION_LOCK_KEY = 4_242_000_001;

export async function migrate(db: Db): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const scripts = await Promise.all(files.map(async (file) => ({ file, sql: await readFile(dir + file, 'utf8') })));
  return db.transaction(async (tx) => {
    // Waiting for another migrator is not a slow query: the pool's statement timeout must not end it.
    await tx.query('SET LOCAL statement_timeout = 0');
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const { file, sql } of scripts) {
      if (done.has(file)) continue;
      await tx.exec(sql);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
      applied.push(file);
    }
    return applied;
  });
}
