import pg from 'pg';
import type { Db, Queryable, QueryResult, Transaction } from './db.js';

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  statementTimeoutMs?: number;
  /** How long a query waits for a free connection of the pool before failing (a 503 for the client). */
  connectTimeoutMs?: number;
}

/** A `pg` pool behind the Db interface. Pool errors (a backend terminated) are absorbed: the next query reconnects. */
export function createPostgresDb(opts: PostgresOptions, onErrorCb?: (err: Error) => void): Db {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    statement_timeout: opts.statementTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: 15_000,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
  });
  // An idle client whose backend dies emits 'error' on the pool; without a listener it would crash the process.
  pool.on('error', (err) => onErrorCb?.(err));

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
    async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
      let broken = false;
      // While checked out, a client has no listener of the pool's: a backend terminated mid-transaction
      // (pg_terminate_backend, a database restart) emits 'error' on it, which would crash the process.
      // The query in flight rejects on its own; here the error only marks the connection as unusable.
      const onError = (err: Error) => {
        broken = true;
        onErrorCb?.(err);
      };
      // The listener is attached in pool.connect's callback, not after `await pool.connect()`: the pool
      // hands a new client over while parsing the server's "ready", and a "terminating connection" read in
      // the same chunk is emitted before any awaiting code runs.
      const client = await new Promise<pg.PoolClient>((resolve, reject) => {
        pool.connect((err, c) => {
          if (err || !c) return reject(err ?? new Error('no connection'));
          c.on('error', onError);
          resolve(c);
        });
      });
      try {
        await client.query('BEGIN');
        const last: string[] = [];
        const result = await fn({ ...asQueryable(client), atCommit: (sql) => void last.push(sql) });
        // No parameters: the simple protocol takes the queued statements and COMMIT in one message.
        const done = (await client.query(last.length > 0 ? `${last.join(';\n')};\nCOMMIT` : 'COMMIT')) as unknown;
        // A transaction an earlier error aborted answers COMMIT with ROLLBACK, not with an error: an
        // error that fn caught and did not rethrow must not become an acknowledged write that is lost.
        const tag = (Array.isArray(done) ? done[done.length - 1] : done) as { command?: string } | undefined;
        if (tag?.command !== 'COMMIT') throw new Error(`transaction not committed (the server answered ${tag?.command})`);
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // connection is gone; do not return it to the pool
        }
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
}
