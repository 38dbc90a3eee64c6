import { describe, expect, it } from 'vitest';
import type { Engine, JournalRead } from '../../../src/cache/engine/index.js';
import { Engines, KIND, Source, sharedClient, waitFor } from './helpers.js';

const engines = new Engines();

function notes(r: JournalRead | undefined): string[] | undefined {
  return r?.notes.map((n) => n.note.toString());
}

/** Publishes one write per note, in order, and returns the notes' positions. */
async function journalWrites(e: Engine, db: Source, texts: string[], firstVersion = 1): Promise<string[]> {
  const positions: string[] = [];
  for (const [i, t] of texts.entries()) {
    const report = await db.write(e, 'p', firstVersion + i, t, { journal: Buffer.from(t) });
    expect(report.position).toBeDefined();
    positions.push(report.position!);
  }
  return positions;
}

/** A Redis journal position `<epoch>:<ms>-<seq>` as numbers, to compare. */
function parseRedisPosition(p: string): [number, number, number] {
  const m = /^(\d+):(\d+)-(\d+)$/.exec(p);
  expect(m, `position ${p}`).not.toBeNull();
  return [Number(m![1]), Number(m![2]), Number(m![3])];
}

/** Positions of a memory journal: `<epoch>:<seq>`, the epoch taken from a position it gave. */
function memoryPosition(sample: string): (seq: number) => string {
  const epoch = sample.split(':')[0];
  expect(epoch, `position ${sample}`).toMatch(/^\d+$/);
  return (seq) => `${epoch}:${seq}`;
}

function before(a: [number, number, number], b: [number, number, number]): boolean {
  return a[1] < b[1] || (a[1] === b[1] && a[2] < b[2]);
}

describe('memory journal', () => {
  it('positions in publish order; a read after a position returns the later notes, paged', async () => {
    const e = engines.make();
    const db = new Source();
    const start = await e.journalHead();
    const at = memoryPosition(start!);
    expect(start).toBe(at(0));
    const positions = await journalWrites(e, db, ['n1', 'n2', 'n3']);
    expect(positions).toEqual([at(1), at(2), at(3)]);
    expect(await e.journalHead()).toBe(at(3));
    expect(notes(await e.journalRead(start!, 10))).toEqual(['n1', 'n2', 'n3']);
    expect(await e.journalRead(positions[0]!, 10)).toEqual({
      notes: [
        { position: at(2), note: Buffer.from('n2') },
        { position: at(3), note: Buffer.from('n3') },
      ],
      next: at(3),
      more: false,
    });
    const page = await e.journalRead(start!, 2);
    expect(page).toMatchObject({ next: at(2), more: true });
    expect(notes(page)).toEqual(['n1', 'n2']);
    expect(await e.journalRead(positions[2]!, 10)).toEqual({ notes: [], next: at(3), more: false });
    // A write without a journal note has no position and changes nothing in the journal.
    expect((await db.write(e, 'p', 9, 'quiet')).position).toBeUndefined();
    expect(await e.journalHead()).toBe(at(3));
  });

  it("the 'applied' event carries the note's position", async () => {
    const e = engines.make();
    const at = memoryPosition((await e.journalHead())!);
    const seen: Array<[string | undefined, string | undefined]> = [];
    e.events.on('applied', (a) => seen.push([a.position, a.note?.toString()]));
    await e.publish([{ kind: KIND, id: 'p', version: 1, value: 'x' }], { journal: Buffer.from('j'), note: Buffer.from('bus') });
    expect(seen).toEqual([[at(1), 'bus']]);
  });

  it('a position older than what is kept (journalMax) or from before clear() gives undefined', async () => {
    const e = engines.make({ journalMax: 3 });
    const db = new Source();
    const start = (await e.journalHead())!;
    const at = memoryPosition(start);
    const positions = await journalWrites(e, db, ['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(await e.journalRead(at(0), 10)).toBeUndefined(); // n1 and n2 are gone
    expect(await e.journalRead(positions[0]!, 10)).toBeUndefined(); // n2 is gone
    expect(notes(await e.journalRead(positions[1]!, 10))).toEqual(['n3', 'n4', 'n5']);
    expect(await e.journalRead(at(99), 10)).toBeUndefined(); // never issued
    expect(await e.journalRead('garbage', 10)).toBeUndefined();

    await e.clear();
    expect(await e.journalRead(positions[4]!, 10)).toBeUndefined();
    const head = await e.journalHead();
    const nextEpoch = memoryPosition(`${Number(start.split(':')[0]) + 1}:0`);
    expect(head).toBe(nextEpoch(5));
    const [after] = await journalWrites(e, db, ['n6'], 10);
    expect(after).toBe(nextEpoch(6));
    expect(notes(await e.journalRead(head!, 10))).toEqual(['n6']);
  });

  it('a restarted process (a new engine) refuses the positions of the one before, whose notes died with it', async () => {
    const db = new Source();
    const first = engines.make();
    const [, old] = await journalWrites(first, db, ['n1', 'n2']);
    await new Promise((r) => setTimeout(r, 5));
    const second = engines.make();
    // It has written as many notes since: the same seq, another journal.
    await journalWrites(second, db, ['m1', 'm2', 'm3'], 10);
    expect(await second.journalRead(old!, 10)).toBeUndefined();
    expect((await second.journalHead())!.split(':')[0]).not.toBe(old!.split(':')[0]);
  });
});

describe('Redis journal (two instances on the shared Redis)', () => {
  it('positions in publish order, the same on every instance; reads after a position, paged', async () => {
    const { a, b } = await engines.sharedPair();
    const db = new Source();
    const start = await b.journalHead();
    const [epoch] = parseRedisPosition(start!);
    expect(start).toBe(`${epoch}:0-0`);
    const applied: Array<[string | undefined, 'local' | 'remote']> = [];
    b.events.on('applied', (x) => applied.push([x.position, x.origin]));

    const positions = [...(await journalWrites(a, db, ['n1', 'n2'])), ...(await journalWrites(b, db, ['n3'], 3))];
    const parsed = positions.map(parseRedisPosition);
    expect(parsed.map((p) => p[0])).toEqual([epoch, epoch, epoch]);
    expect(before(parsed[0]!, parsed[1]!) && before(parsed[1]!, parsed[2]!)).toBe(true);
    // b received a's messages with their positions, and knows its own write's.
    await waitFor(() => applied.length === 3, 5000, "b's applied events");
    expect(applied).toEqual([
      [positions[0], 'remote'],
      [positions[1], 'remote'],
      [positions[2], 'local'],
    ]);
    expect(await a.journalHead()).toBe(positions[2]);
    expect(await b.journalHead()).toBe(positions[2]);

    expect(notes(await b.journalRead(start!, 10))).toEqual(['n1', 'n2', 'n3']);
    expect(await a.journalRead(positions[0]!, 10)).toEqual({
      notes: [
        { position: positions[1], note: Buffer.from('n2') },
        { position: positions[2], note: Buffer.from('n3') },
      ],
      next: positions[2],
      more: false,
    });
    const page = await a.journalRead(start!, 1);
    expect(page).toMatchObject({ next: positions[0], more: true });
    expect(notes(page)).toEqual(['n1']);
    expect(await a.journalRead(positions[2]!, 10)).toEqual({ notes: [], next: positions[2], more: false });
  });

  it('a position from another epoch (after clear()) or malformed gives undefined', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    const positions = await journalWrites(a, db, ['n1', 'n2']);
    const [epoch] = parseRedisPosition(positions[0]!);
    expect(await a.journalRead('not-a-position', 10)).toBeUndefined();
    expect(await a.journalRead('0:123', 10)).toBeUndefined();
    expect(await a.journalRead(`${epoch + 1}:0-0`, 10)).toBeUndefined(); // an epoch not begun

    await a.clear();
    expect(await a.journalRead(positions[0]!, 10)).toBeUndefined();
    expect(await b.journalRead(positions[1]!, 10)).toBeUndefined();
    const head = await b.journalHead();
    expect(parseRedisPosition(head!)[0]).toBe(epoch + 1);
    const [after] = await journalWrites(b, db, ['n3'], 5);
    expect(parseRedisPosition(after!)[0]).toBe(epoch + 1);
    expect(notes(await a.journalRead(head!, 10))).toEqual(['n3']);

    const plain = sharedClient();
    try {
      // The notes themselves live in one stream; the epoch is what refuses the old positions.
      expect(await plain.xlen(`${namespace}:{coord}:journal`)).toBe(3);
    } finally {
      plain.disconnect();
    }
  });

  it('notes older than the retention (10 min) are dropped by the next write: a position before a dropped note gives undefined, one after them does not', async () => {
    const { a, namespace } = await engines.sharedPair();
    const plain = sharedClient();
    const old = Date.now() - 11 * 60_000;
    try {
      const [epoch] = parseRedisPosition((await a.journalHead())!);
      // Notes written 11 minutes ago, on a journal that has been quiet since.
      for (let i = 0; i < 3; i++) await plain.xadd(`${namespace}:{coord}:journal`, `${old}-${i}`, 'n', `old${i}`);
      expect(notes(await a.journalRead(`${epoch}:${old}-0`, 10))).toEqual(['old1', 'old2']); // nothing dropped yet
      expect(await a.journalHead()).toBe(`${epoch}:${old}-2`);

      const [fresh] = await journalWrites(a, new Source(), ['new']);
      expect(await plain.xlen(`${namespace}:{coord}:journal`)).toBe(1);
      expect(await a.journalRead(`${epoch}:${old}-0`, 10)).toBeUndefined(); // old1 and old2 were dropped after it
      expect(await a.journalRead(`${epoch}:${old}-1`, 10)).toBeUndefined();
      expect(await a.journalRead(`${epoch}:${old - 60_000}-0`, 10)).toBeUndefined();
      // The head of the quiet journal missed nothing: a client there resumes.
      expect(await a.journalRead(`${epoch}:${old}-2`, 10)).toEqual({ notes: [{ position: fresh, note: Buffer.from('new') }], next: fresh, more: false });
    } finally {
      plain.disconnect();
    }
  });

  it('a position past the newest note, or into a journal Redis lost (its keys gone), gives undefined', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    const positions = await journalWrites(a, db, ['n1', 'n2']);
    const [epoch, ms, seq] = parseRedisPosition(positions[1]!);
    expect(await a.journalRead(`${epoch}:${ms}-${seq + 1}`, 10)).toBeUndefined();
    expect(await a.journalRead(`${epoch}:${ms + 60_000}-0`, 10)).toBeUndefined();
    expect(await a.journalRead(positions[1]!, 10)).toEqual({ notes: [], next: positions[1], more: false });

    // As after a restart of a Redis that keeps nothing on disk.
    const plain = sharedClient();
    try {
      await plain.del(`${namespace}:{coord}:journal`, `${namespace}:{coord}:jmeta`);
    } finally {
      plain.disconnect();
    }
    expect(await b.journalRead(positions[0]!, 10)).toBeUndefined();
    const [after] = await journalWrites(b, db, ['n3', 'n4'], 5);
    expect(parseRedisPosition(after!)[0]).not.toBe(epoch);
    // Notes exist again after the old position: it is still refused (its notes in between are lost).
    expect(await a.journalRead(positions[0]!, 10)).toBeUndefined();
    expect(notes(await a.journalRead(after!, 10))).toEqual(['n4']);
  });
});
