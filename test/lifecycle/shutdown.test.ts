import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGatewayProcess, type GatewayProcess } from '../../support/gateway-process.js';
import type { Db } from '../../src/db/index.js';
import { uniqueNamespace } from '../helpers/cluster.js';
import { testEnv } from '../helpers/config.js';
import { createGroup, registerUsers, type TestUser } from '../helpers/fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { StreamClient } from '../helpers/stream-client.js';

/**
 * SIGTERM on a gateway process (support/gateway-child.ts stops on signals as `npm start` does), on
 * real PostgreSQL and Redis. A write is made slow honestly: the test holds the conversation's row lock,
 * so the write waits in PostgreSQL, and the test knows it waits (pg_stat_activity), not guesses.
 */
describe('graceful shutdown of a gateway process', () => {
  let database: TestDatabase;
  const procs: GatewayProcess[] = [];
  const start = async (env: Record<string, string>) => {
    const p = await startGatewayProcess(
      testEnv({ DATABASE_URL: database.url, REDIS_URL: SHARED_REDIS_URL, CACHE_NAMESPACE: uniqueNamespace(), ...env }),
      { captureOutput: true },
    );
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    database = await createTestDatabase(inject('pgTemplate'));
  }, 120_000);
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.kill();
  });
  afterAll(async () => database?.drop());

  /** Holds the conversation's row lock in a transaction of the test's own until `release()`. */
  const holdConversationLock = async (db: Db, conversationId: string) => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const held = new Promise<void>((r) => (locked = r));
    const tx = db.transaction(async (t) => {
      await t.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
      locked();
      await released;
    });
    await held;
    return { release: async () => (release(), await tx) };
  };

  /** Until a backend of the test database waits for a lock (the gateway's write, behind the test's lock). */
  const untilAWriteWaits = async () => {
    for (;;) {
      const { rows } = await database.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
        [database.name],
      );
      if (rows[0]!.n > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const refusesConnections = (url: string) =>
    new Promise<boolean>((resolve) => {
      const u = new URL(url);
      const s = connect({ host: u.hostname, port: Number(u.port) });
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });

  const setup = async (gp: GatewayProcess) => {
    const [alice, bob] = (await registerUsers(gp.api, 2)) as [TestUser, TestUser];
    const conversationId = (await createGroup(gp.api, alice, [bob])).id as string;
    return { alice, bob, conversationId };
  };

  it('SIGTERM: streams get 1001, new connections are refused, the write in flight commits with 201, exit 0', async () => {
    const gp = await start({ SHUTDOWN_GRACE_MS: '120000' });
    const { alice, bob, conversationId } = await setup(gp);
    const stream = await StreamClient.connect(gp.url, bob.token);
    const lock = await holdConversationLock(database.db, conversationId);
    const post = gp.api.post(`/api/v1/conversations/${conversationId}/messages`, alice.token, { content: 'in flight at SIGTERM' });
    await untilAWriteWaits();

    gp.signal('SIGTERM');
    // Going away: the client reconnects elsewhere and resumes.
    expect((await stream.waitClosed(30_000)).code).toBe(1001);
    // The listener is closed while the write still waits (it cannot finish before the lock is released).
    while (!(await refusesConnections(gp.url))) await new Promise((r) => setTimeout(r, 20));
    await lock.release();

    const res = await post;
    expect(res.status, res.text).toBe(201);
    const { rows } = await database.db.query('SELECT content FROM messages WHERE id = $1', [res.body.data.id]);
    expect(rows).toEqual([{ content: 'in flight at SIGTERM' }]);
    expect(await gp.exited).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('during SHUTDOWN_DELAY_MS /ready answers 503 draining while requests are still served; a second signal forces exit 1', async () => {
    const gp = await start({ SHUTDOWN_DELAY_MS: '120000', LOG_LEVEL: 'info' });
    const { alice } = await setup(gp);
    expect((await gp.api.get('/ready')).status).toBe(200);

    gp.signal('SIGTERM');
    let ready = await gp.api.get('/ready');
    while (ready.status === 200) ready = await gp.api.get('/ready');
    expect(ready.status, ready.text).toBe(503);
    expect(ready.body).toEqual(expect.objectContaining({ status: 'draining', db: 'up' }));
    // The listener stays open for the delay: what still arrives is served (and told to close its connection).
    const list = await gp.api.get('/api/v1/conversations', alice.token);
    expect(list.status, list.text).toBe(200);
    expect(list.headers.get('connection')).toBe('close');

    gp.signal('SIGTERM');
    expect(await gp.exited).toEqual({ code: 1, signal: null });
    expect(gp.output()).toContain('second signal during shutdown: forcing exit');
  }, 120_000);

  it('a request still in flight when SHUTDOWN_GRACE_MS elapses: exit 1, logged, the write never acknowledged', async () => {
    const gp = await start({ SHUTDOWN_GRACE_MS: '500', LOG_LEVEL: 'warn' });
    const { alice, conversationId } = await setup(gp);
    const lock = await holdConversationLock(database.db, conversationId);
    const post = gp.api.post(`/api/v1/conversations/${conversationId}/messages`, alice.token, { content: 'never acknowledged' }).then(
      (res) => `answered ${res.status}`,
      (err: unknown) => err,
    );
    await untilAWriteWaits();

    gp.signal('SIGTERM');
    expect(await gp.exited).toEqual({ code: 1, signal: null });
    expect(gp.output()).toContain('shutdown grace elapsed');
    expect(await post).toBeInstanceOf(Error);
    await lock.release();
    const { rows } = await database.db.query('SELECT 1 FROM messages WHERE content = $1', ['never acknowledged']);
    expect(rows).toEqual([]);
  }, 120_000);
});
