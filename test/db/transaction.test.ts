import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { migrate } from '../../src/db/index.js';
import { createPgliteDb } from '../../src/db/pglite.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** Db.transaction and its atCommit statements (the outbox row rides on COMMIT), on both drivers. */
describe.each(['postgres', 'pglite'] as const)('transactions with atCommit statements (%s)', (backend) => {
  let db: Db;
  let pgDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    if (backend === 'postgres') {
      pgDatabase = await createTestDatabase(inject('pgTemplate'));
      db = pgDatabase.db;
    } else {
      db = await createPgliteDb(undefined);
      await migrate(db);
    }
    await db.exec('CREATE TABLE t (k text PRIMARY KEY)');
  }, 120_000);
  afterAll(async () => {
    if (pgDatabase) await pgDatabase.drop();
    else await db?.close();
  });

  const keys = async () => (await db.query<{ k: string }>('SELECT k FROM t ORDER BY k')).rows.map((r) => r.k);

  it('runs them last, inside the transaction, and commits them with it', async () => {
    await db.transaction(async (tx) => {
      tx.atCommit("INSERT INTO t VALUES ('b')");
      tx.atCommit("INSERT INTO t VALUES ('c')");
      await tx.query("INSERT INTO t VALUES ('a')");
      // Not yet run: they go with COMMIT.
      expect((await tx.query("SELECT 1 FROM t WHERE k = 'b'")).rows).toHaveLength(0);
    });
    expect(await keys()).toEqual(['a', 'b', 'c']);
  });

  it('a transaction that throws runs none of them, and commits nothing', async () => {
    await expect(
      db.transaction(async (tx) => {
        tx.atCommit("INSERT INTO t VALUES ('e')");
        await tx.query("INSERT INTO t VALUES ('d')");
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await keys()).toEqual(['a', 'b', 'c']);
  });

  it('a failing atCommit statement fails the transaction: nothing of it is committed', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ('f')");
        tx.atCommit("INSERT INTO t VALUES ('a')"); // duplicate key
      }),
    ).rejects.toThrow();
    expect(await keys()).toEqual(['a', 'b', 'c']);
    // The connection is usable afterwards.
    await db.transaction(async (tx) => void (await tx.query("INSERT INTO t VALUES ('g')")));
    expect(await keys()).toEqual(['a', 'b', 'c', 'g']);
  });

  it('an error caught inside the transaction fails it: a rolled-back write is never reported as done', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ('h')");
        await tx.query("INSERT INTO t VALUES ('a')").catch(() => undefined); // duplicate key, swallowed
      }),
    ).rejects.toThrow();
    expect(await keys()).toEqual(['a', 'b', 'c', 'g']);
  });
});
