import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import type { WriteEvent, WriteSubscriber } from '../../src/domain/events.js';
import { Writer } from '../../src/domain/writer.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** The Writer's calls to its subscribers, in order, on real PostgreSQL. */
describe('Writer', () => {
  let pgDatabase: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    pgDatabase = await createTestDatabase(inject('pgTemplate'));
    db = pgDatabase.db;
    await db.exec('CREATE TABLE w (k text PRIMARY KEY)');
  }, 120_000);
  afterAll(async () => {
    await pgDatabase?.drop();
  });

  /** A Writer whose one subscriber logs every call, in order. */
  function recordingWriter(): { writer: Writer; log: string[] } {
    const log: string[] = [];
    const writer = new Writer(db);
    const sub: WriteSubscriber = {
      begin: (users) => {
        log.push(`begin ${users.join(',')}`);
        return 'token';
      },
      inTransaction: async (_tx, _e, begun) => void log.push(`inTransaction ${String(begun)}`),
      afterCommit: async (_e, { begun }) => void log.push(`afterCommit ${String(begun)}`),
      afterAbort: (begun) => void log.push(`afterAbort ${String(begun)}`),
    };
    writer.subscribe(sub);
    return { writer, log };
  }
  const event = (users: string[]): WriteEvent => ({ kind: 'message.created', actorId: '1', conversationId: '1', affectedUserIds: users });

  it('begins after the statement that follows affects() has been sent, then commits in order', async () => {
    const { writer, log } = recordingWriter();
    await writer.write(async (tx, w) => {
      w.affects(['1', '2']);
      // Sent synchronously by pg before its first await; begin() runs after it, overlapping it.
      const q = tx.query("INSERT INTO w VALUES ('a')");
      log.push('statement sent');
      await q;
      return { result: null, event: event(['1', '2']) };
    });
    expect(log).toEqual(['statement sent', 'begin 1,2', 'inTransaction token', 'afterCommit token']);
  });

  it('a write that fails before its begin ran places nothing and undoes nothing', async () => {
    const { writer, log } = recordingWriter();
    await expect(
      writer.write(async (_tx, w) => {
        w.affects(['1']);
        throw new Error('invalid');
      }),
    ).rejects.toThrow('invalid');
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([]);
  });

  it('a write that fails after its begin ran ends it (afterAbort), and commits nothing', async () => {
    const { writer, log } = recordingWriter();
    await expect(
      writer.write(async (tx, w) => {
        w.affects(['1']);
        await tx.query("INSERT INTO w VALUES ('b')");
        throw new Error('late');
      }),
    ).rejects.toThrow('late');
    expect(log).toEqual(['begin 1', 'afterAbort token']);
    expect((await db.query("SELECT 1 FROM w WHERE k = 'b'")).rows).toHaveLength(0);
  });

  it('users named only in the event are begun before commit', async () => {
    const { writer, log } = recordingWriter();
    await writer.write(async (tx) => {
      await tx.query("INSERT INTO w VALUES ('c')");
      return { result: null, event: event(['3']) };
    });
    expect(log).toEqual(['begin 3', 'inTransaction token', 'afterCommit token']);
  });
});
