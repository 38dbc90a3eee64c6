import { createDatabase, PG_ADMIN_URL, type DatabaseOptions, type PgDatabase } from '../../support/postgres.js';

export type BenchDatabase = PgDatabase;

/**
 * A throwaway database for a benchmark, on BENCH_PG_ADMIN_URL (else the tests' server): migrated unless
 * `migrate: false`, with statements allowed to run for minutes (generating a dataset).
 */
export function createBenchDatabase(prefix: string, opts: Pick<DatabaseOptions, 'max' | 'migrate'> = {}): Promise<BenchDatabase> {
  return createDatabase({
    prefix,
    adminUrl: process.env.BENCH_PG_ADMIN_URL ?? PG_ADMIN_URL,
    max: opts.max ?? 4,
    statementTimeoutMs: 600_000,
    migrate: opts.migrate ?? true,
  });
}
