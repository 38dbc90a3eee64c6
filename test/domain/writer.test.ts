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

  /** A Writer whose one subscriber logs every call, in order, and what it saw of the database. */
  function recordingWriter(): { writer: Writer; log: string[] } {
    const log: string[] = [];
    const writer = new Writer(db);
    const sub: WriteSubscriber<string> = {
      inTransaction: async (tx, e) => {
        const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM w');
        log.push(`inTransaction ${e.kind} sees ${rows[0]!.n}`);
        return 'carried';
      },
      afterCommit: async (e, carried) => void log.push(`afterCommit ${e.kind} ${String(carried)}`),
    };
    writer.subscribe(sub);
    return { writer, log };
  }
  const event = (conversations: string[]): WriteEvent => ({
    kind: 'message.created',
    actorId: '1',
    conversationId: '1',
    affectedUserIds: ['1'],
    changed: { conversations, memberLists: [] },
  });

  it('runs the subscriber inside the transaction (it sees the write) and after commit, with what it carried', async () => {
    const { writer, log } = recordingWriter();
    const before = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM w')).rows[0]!.n);
    await writer.write(async (tx) => {
      await tx.query("INSERT INTO w VALUES ('a')");
      return { result: null, event: event(['1']) };
    });
    expect(log).toEqual([`inTransaction message.created sees ${before + 1}`, 'afterCommit message.created carried']);
  });

  it('a write that fails calls no subscriber and commits nothing', async () => {
    const { writer, log } = recordingWriter();
    await expect(
      writer.write(async (tx) => {
        await tx.query("INSERT INTO w VALUES ('b')");
        throw new Error('late');
      }),
    ).rejects.toThrow('late');
    expect(log).toEqual([]);
    expect((await db.query("SELECT 1 FROM w WHERE k = 'b'")).rows).toHaveLength(0);
  });

  it('a subscriber that fails in the transaction rolls the write back', async () => {
    const writer = new Writer(db);
    writer.subscribe({ inTransaction: async () => Promise.reject(new Error('subscriber')) });
    await expect(
      writer.write(async (tx) => {
        await tx.query("INSERT INTO w VALUES ('c')");
        return { result: null, event: event(['1']) };
      }),
    ).rejects.toThrow('subscriber');
    expect((await db.query("SELECT 1 FROM w WHERE k = 'c'")).rows).toHaveLength(0);
  });

  it('a write that changed nothing (no event) reaches no subscriber; an unsubscribed one is not called', async () => {
    const { writer, log } = recordingWriter();
    await writer.write(async () => ({ result: null, event: null }));
    expect(log).toEqual([]);
    const other = new Writer(db);
    const calls: string[] = [];
    const off = other.subscribe({ afterCommit: async () => void calls.push('called') });
    off();
    await other.write(async (tx) => {
      await tx.query("INSERT INTO w VALUES ('d')");
      return { result: null, event: event(['2']) };
    });
    expect(calls).toEqual([]);
  });
});
