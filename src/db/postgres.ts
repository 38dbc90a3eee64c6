import pg from 'pg';
import type { Db, Queryable, QueryResult } from './db.js';

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  statementTimeoutMs?: number;
}

/** A `pg` pool behind the Db interface. Pool errors (a backend terminated) are absorbed: the next query reconnects. */
export function createPostgresDb(opts: PostgresOptions, onError?: (err: Error) => void): Db {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    statement_timeout: opts.statementTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: 15_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client whose backend dies emits 'error' on the pool; without a listener it would crash the process.
  pool.on('error', (err) => onError?.(err));

  const asQueryable = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await c.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await c.query(sql); // no parameters: the simple protocol accepts several statements
    },
  });
  const root = asQueryable(pool);

  return {
    kind: 'postgres',
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(asQueryable(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // connection is gone; do not return it to the pool
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
