import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult, Transaction } from './db.js';

/**
 * Embedded PostgreSQL (PGlite, WASM) behind the Db interface. PGlite runs one query at a time,
 * so transactions are serialised by PGlite itself; that is fine for a single dev process.
 */
export async function createPgliteDb(dataDir: string | undefined): Promise<Db> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const pg = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const wrap = (q: { query: PGlite['query']; exec: PGlite['exec'] }): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await q.query<R>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  });
  const root = wrap(pg);
  return {
    kind: 'pglite',
    query: root.query,
    exec: root.exec,
    // In process, a round trip costs nothing: the queued statements simply run before the commit.
    transaction: <T>(fn: (tx: Transaction) => Promise<T>) =>
      pg.transaction(async (tx) => {
        const last: string[] = [];
        const q = wrap(tx);
        const result = await fn({ ...q, atCommit: (sql) => void last.push(sql) });
        for (const sql of last) await q.exec(sql);
        return result;
      }),
    async close() {
      await pg.close();
    },
  };
}
