import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { migrate } from '../../src/db/index.js';
import { createPgliteDb } from '../../src/db/pglite.js';
import { createPostgresDb } from '../../src/db/postgres.js';
import { TcpProxy } from '../helpers/net.js';
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

/**
 * A backend terminated (pg_terminate_backend, a restart) right as a transaction's new connection became
 * ready: the server's "ready" and its "terminating connection" (57P01) can reach the driver in one read.
 * The driver hands the client over on "ready" and emits the error in the same tick, before any code
 * awaiting the connection runs: an error listener attached after an await would be too late, and the
 * unheard 'error' would crash the gateway (CI saw it under check:freshness's pg-terminate scenario).
 */
describe('a connection terminated as it is handed to a transaction (postgres)', () => {
  let pgDatabase: TestDatabase;
  let proxy: TcpProxy;
  beforeAll(async () => {
    pgDatabase = await createTestDatabase(inject('pgTemplate'));
    proxy = await TcpProxy.start(Number(new URL(pgDatabase.url).port || 5432));
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await pgDatabase?.drop();
  });

  it('fails that transaction, reports the error, and does not crash the process', async () => {
    const url = new URL(pgDatabase.url);
    url.port = String(proxy.port);
    url.searchParams.set('application_name', 'terminated_on_handover');
    const errors: Error[] = [];
    const db = createPostgresDb({ connectionString: url.toString(), max: 1 }, (err) => errors.push(err));
    try {
      proxy.holdReplies(); // the server's startup answers wait in the proxy
      const tx = db.transaction(async (t) => void (await t.query('SELECT 1')));
      tx.catch(() => undefined);
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        const r = await pgDatabase.db.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = 'terminated_on_handover' AND state = 'idle'",
        );
        pid = r.rows[0]?.pid;
        if (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(pid, 'the proxied connection reached the server').toBeDefined();
      const closed = proxy.nextUpstreamClose();
      await pgDatabase.db.query('SELECT pg_terminate_backend($1)', [pid]);
      await closed;
      proxy.resume(); // "ready" and the 57P01 error reach the driver in one chunk
      await expect(tx).rejects.toThrow();
      expect(errors.map((e) => (e as Error & { code?: string }).code)).toContain('57P01');
      // The pool recovers: the next transaction gets a new connection.
      await db.transaction(async (t) => void (await t.query('SELECT 1')));
    } finally {
      proxy.resume();
      await db.close();
    }
  });
});
