import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, type Db } from '../../src/db/index.js';
import { createPgliteDb } from '../../src/db/pglite.js';
import { createPostgresDb } from '../../src/db/postgres.js';
import { createDatabase, type PgDatabase } from '../../support/postgres.js';

/**
 * Replicas started together on an empty database each run the migrations at startup. Every migrator
 * here has a pool of its own (a process of its own would have nothing more to race with), all start
 * at once, on several fresh databases in turn: one bad interleaving is enough to fail a round.
 */
const MIGRATORS = 4;
const ROUNDS = 5;

const migrationFiles = async () =>
  (await readdir(fileURLToPath(new URL('../../src/db/migrations/', import.meta.url)))).filter((f) => f.endsWith('.sql')).sort();

describe('migrations run by several processes at once on one new database', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close().catch(() => undefined);
  });

  it('all succeed, and each migration is applied exactly once', async () => {
    const files = await migrationFiles();
    for (let round = 0; round < ROUNDS; round++) {
      const database: PgDatabase = await createDatabase({ prefix: 'chatgate_migrate', migrate: false });
      open.push({ close: () => database.drop() });
      const pools: Db[] = [];
      for (let i = 0; i < MIGRATORS; i++) {
        const db = createPostgresDb({ connectionString: database.url, max: 2 });
        pools.push(db);
        open.push(db);
      }
      // Connected before the race starts, so that the migrators start as close together as they can.
      await Promise.all(pools.map((db) => db.query('SELECT 1')));

      const outcomes = await Promise.allSettled(pools.map((db) => migrate(db)));
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
      expect(failures, `round ${round}`).toEqual([]);
      // Each file applied by exactly one of them; the others found it done.
      const applied = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : [])).sort();
      expect(applied, `round ${round}`).toEqual(files);
      const rows = await database.db.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      expect(rows.rows.map((r) => r.name)).toEqual(files);

      // Once done, a later migrator has nothing left to apply.
      expect(await migrate(pools[0]!)).toEqual([]);
      for (const db of pools) await db.close();
      open.splice(0);
      await database.drop();
    }
  }, 300_000);

  it('the embedded database takes the same lock (one process: it never waits)', async () => {
    const db = await createPgliteDb(undefined);
    open.push(db);
    expect(await migrate(db)).toEqual(await migrationFiles());
    expect(await migrate(db)).toEqual([]);
  }, 120_000);
});
