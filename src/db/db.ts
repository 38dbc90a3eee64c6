/**
 * The one database interface the store is written against. Two drivers implement it:
 * a `pg` pool for a real PostgreSQL server and PGlite (embedded PostgreSQL) for `npm start`
 * with nothing installed. Same SQL, same schema, same parameter style ($1, $2, ...).
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a parameterless script of several statements (migrations, fixtures). */
  exec(sql: string): Promise<void>;
}

/** A transaction in progress. */
export interface Transaction extends Queryable {
  /**
   * Queues a parameterless statement to run last in this transaction, sent together with COMMIT in
   * one round trip (a write that must commit with the transaction but whose result nobody waits for,
   * such as an outbox row: it costs no round trip of its own). If it fails, the transaction fails.
   */
  atCommit(sql: string): void;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
