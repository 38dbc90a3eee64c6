import { describe, expect, it } from 'vitest';
import type { Applied } from '../../../src/cache/engine/index.js';
import { L1 } from '../../../src/cache/engine/local/l1.js';
import { Engines, KIND, Source, peekOne, readOne, sleep, within } from './helpers.js';

const engines = new Engines();

describe('memory-only engine: reads', () => {
  it('getMany loads a batch once, in one loader call, then serves it from L1', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 1, 'A');
    db.set('b', 4, 'B');
    const first = await e.getMany<string>(KIND, ['a', 'b', 'a'], db.loader);
    expect(db.calls).toEqual([['a', 'b']]);
    expect([...first].map(([id, f]) => [id, f.entry.version, f.entry.value, f.source])).toEqual([
      ['a', 1, 'A', 'load'],
      ['b', 4, 'B', 'load'],
    ]);
    const again = await e.getMany<string>(KIND, ['b', 'a'], db.loader);
    expect(db.loads).toBe(1);
    expect([...again.values()].map((f) => f.source)).toEqual(['l1', 'l1']);
    expect(again.get('b')?.entry).toMatchObject({ version: 4, value: 'B' });
    expect(e.stats()).toMatchObject({ enabled: true, coherent: true, redis: 'disabled', bus: 'disabled', loads: 1, misses: 2, hits: { l1: 2, l2: 0 }, entries: 2 });
  });

  it('a piece the loader leaves out does not exist and is not cached: every read asks again', async () => {
    const e = engines.make();
    const db = new Source();
    expect((await e.getMany<string>(KIND, ['ghost'], db.loader)).size).toBe(0);
    expect((await e.getMany<string>(KIND, ['ghost'], db.loader)).size).toBe(0);
    expect(db.loads).toBe(2);
    expect(e.peek(KIND, 'ghost')).toBeUndefined();
  });

  it('readers of a piece whose load is in flight join it: one load for all of them', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 1, 'A');
    const held = db.held();
    const first = e.getMany<string>(KIND, ['a'], held.loader);
    await held.started;
    const second = e.getMany<string>(KIND, ['a', 'b'], db.loader); // b is not in flight: loaded alone
    held.release();
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.get('a')?.entry.value).toBe('A');
    expect(r2.get('a')).toEqual({ entry: { version: 1, value: 'A' }, source: 'load' });
    expect(db.calls).toEqual([['a'], ['b']]);
  });

  it('peek serves L1 only: nothing before a read, the entry after, and it never loads', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 2, 'A');
    expect(e.peek(KIND, 'a')).toBeUndefined();
    expect(db.loads).toBe(0);
    await readOne(e, 'a', db.loader);
    expect(peekOne(e, 'a')).toEqual([2, 'A']);
    expect(e.peek('other', 'a')).toBeUndefined(); // kinds do not share pieces
  });

  it('tombstones: a piece that does not exist at a version is cached as null, and a newer version revives it', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('gone', 3, null);
    expect(await readOne(e, 'gone', db.loader)).toEqual([3, null, 'load']);
    expect(await readOne(e, 'gone', db.loader)).toEqual([3, null, 'l1']);
    expect(db.loads).toBe(1);
    expect(peekOne(e, 'gone')).toEqual([3, null]);

    await db.write(e, 'gone', 4, 'back');
    expect(peekOne(e, 'gone')).toEqual([4, 'back']);
    await db.write(e, 'gone', 5, null);
    expect(peekOne(e, 'gone')).toEqual([5, null]);
    expect(await readOne(e, 'gone', db.loader)).toEqual([5, null, 'l1']);
  });

  it('an unknown kind is refused', async () => {
    const e = engines.make();
    await expect(e.getMany('nope', ['a'], new Source().loader)).rejects.toThrow(/unknown piece kind/);
    await expect(e.publish([{ kind: 'nope', id: 'a', version: 1, value: 'x' }])).rejects.toThrow(/unknown piece kind/);
  });

  it('entries expire after ttlMs', async () => {
    const e = engines.make({ ttlMs: 150 });
    const db = new Source();
    db.set('a', 1, 'A');
    await readOne(e, 'a', db.loader);
    expect(await readOne(e, 'a', db.loader)).toEqual([1, 'A', 'l1']);
    await sleep(300);
    expect(e.peek(KIND, 'a')).toBeUndefined();
    expect(await readOne(e, 'a', db.loader)).toEqual([1, 'A', 'load']);
    expect(db.loads).toBe(2);
  });

  it('L1 keeps to its byte budget: the least recently used pieces go first', async () => {
    const e = engines.make({ l1MaxBytes: 2000 });
    const db = new Source();
    const ids = Array.from({ length: 40 }, (_, i) => `p${i}`);
    for (const id of ids) db.set(id, 1, 'x'.repeat(100));
    for (const id of ids) await readOne(e, id, db.loader);
    const s = e.stats();
    expect(s.bytes).toBeLessThanOrEqual(2000);
    expect(s.entries).toBeGreaterThan(0);
    expect(s.entries).toBeLessThan(ids.length);
    expect(e.peek(KIND, 'p0')).toBeUndefined();
    expect(peekOne(e, 'p39')).toEqual([1, 'x'.repeat(100)]);
  });

  it('options are validated', () => {
    expect(() => engines.make({ ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => engines.make({ l1MaxBytes: 0 })).toThrow(/l1MaxBytes/);
  });
});

describe('memory-only engine: versions never go back', () => {
  it('a write or a load of an older version does not replace a newer one', async () => {
    const e = engines.make();
    const db = new Source();
    await db.write(e, 'a', 5, 'five');
    await e.publish([{ kind: KIND, id: 'a', version: 3, value: 'three' }]); // a write that answers late
    expect(peekOne(e, 'a')).toEqual([5, 'five']);
    // A load that read an older version (a lagging read) answers its caller, but is not kept.
    db.set('a', 4, 'four');
    expect(await readOne(e, 'a', db.loader, { fresh: true })).toEqual([4, 'four', 'load']);
    expect(peekOne(e, 'a')).toEqual([5, 'five']);
    expect(await readOne(e, 'a', db.loader)).toEqual([5, 'five', 'l1']);
  });

  it('the same version again replaces what is there: a fresh reload or a repeated write is the same truth, read later', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 2, 'first reading');
    await readOne(e, 'a', db.loader);
    db.set('a', 2, 'second reading');
    // Not fresh: L1 answers with what it has.
    expect(await readOne(e, 'a', db.loader)).toEqual([2, 'first reading', 'l1']);
    expect(await readOne(e, 'a', db.loader, { fresh: true })).toEqual([2, 'second reading', 'load']);
    expect(peekOne(e, 'a')).toEqual([2, 'second reading']);
    await e.publish([{ kind: KIND, id: 'a', version: 2, value: 'republished' }]);
    expect(peekOne(e, 'a')).toEqual([2, 'republished']);
    expect(db.loads).toBe(2);
  });

  it('a load that started before a write is not kept, and a reader after the write does not join it', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 1, 'old');
    const held = db.held();
    const inFlight = e.getMany<string>(KIND, ['a'], held.loader);
    await held.started;
    await db.write(e, 'a', 2, 'new');
    expect(await within(readOne(e, 'a', db.loader), 2000, 'a read after the write')).toEqual([2, 'new', 'l1']);
    held.release();
    expect((await inFlight).get('a')?.entry).toEqual({ version: 1, value: 'old' });
    expect(peekOne(e, 'a')).toEqual([2, 'new']);
    expect(e.stats().staleFillsRefused).toBe(1);
  });

  it('L1 offer rules: older refused, same version replaced by a value but not by a floor, a floor is never served', () => {
    const l1 = new L1(1 << 16, 60_000);
    expect(l1.offer('k', { version: 5, value: 'v5', bytes: 2 })).toBe(true);
    expect(l1.offer('k', { version: 4, value: 'v4', bytes: 2 })).toBe(false);
    expect(l1.get('k')?.value).toBe('v5');
    expect(l1.offer('k', { version: 5, value: undefined, bytes: 0 })).toBe(false); // a floor of the same version
    expect(l1.get('k')?.value).toBe('v5');
    expect(l1.offer('k', { version: 5, value: 'v5 again', bytes: 8 })).toBe(true);
    expect(l1.get('k')?.value).toBe('v5 again');
    expect(l1.offer('k', { version: 7, value: undefined, bytes: 0 })).toBe(true); // a newer floor
    expect(l1.versionOf('k')).toBe(7);
    expect(l1.offer('k', { version: 6, value: 'v6', bytes: 2 })).toBe(false); // older than the floor
    expect(l1.offer('k', { version: 7, value: 'v7', bytes: 2 })).toBe(true); // the floor's version, with its value
    expect(l1.get('k')).toEqual({ version: 7, value: 'v7', bytes: 2 });
    expect(l1.versionOf('absent')).toBe(-1);
  });
});

describe('memory-only engine: publish', () => {
  it("applies the write here, then emits 'applied' (origin local) and 'settled' for the same message", async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 1, 'old');
    await readOne(e, 'a', db.loader);
    const events: string[] = [];
    let applied: { updates: readonly Applied[]; origin: string; note: Buffer | undefined; messageId: string } | undefined;
    let settled: string | undefined;
    e.events.on('applied', (a) => {
      events.push('applied');
      applied = a;
      // Applied before 'applied' is told: a listener reads the new version.
      events.push(`peek:${String(e.peek<string>(KIND, 'a')?.value)}`);
    });
    e.events.on('settled', (s) => {
      events.push('settled');
      settled = s.messageId;
    });
    const report = await e.publish(
      [
        { kind: KIND, id: 'a', version: 2, value: 'new' },
        { kind: 'other', id: 'a', version: 1, value: null },
      ],
      { note: Buffer.from('hello') },
    );
    expect(report).toMatchObject({ pieces: 2, acks: 0, waitedForLeaseMs: 0, degraded: false, position: undefined });
    expect(events).toEqual(['applied', 'peek:new', 'settled']);
    expect(applied?.origin).toBe('local');
    expect(applied?.updates).toEqual([
      { kind: KIND, id: 'a', version: 2, value: 'new' },
      { kind: 'other', id: 'a', version: 1, value: null },
    ]);
    expect(applied?.note?.toString()).toBe('hello');
    expect(settled).toBe(applied?.messageId);
    expect(peekOne(e, 'a')).toEqual([2, 'new']);
    expect(e.peek('other', 'a')).toMatchObject({ version: 1, value: null });
    expect(await readOne(e, 'a', db.loader)).toEqual([2, 'new', 'l1']);
    expect(db.loads).toBe(1);
    expect(e.stats().published).toBe(2);
  });

  it('clear() forgets every piece and tells the listeners', async () => {
    const e = engines.make();
    const db = new Source();
    db.set('a', 1, 'A');
    await readOne(e, 'a', db.loader);
    let cleared = 0;
    e.events.on('cleared', () => cleared++);
    await e.clear();
    expect(cleared).toBe(1);
    expect(e.peek(KIND, 'a')).toBeUndefined();
    expect(e.stats().entries).toBe(0);
    expect(await readOne(e, 'a', db.loader)).toEqual([1, 'A', 'load']);
  });
});

describe('disabled engine (ttlMs 0)', () => {
  it('every read loads, nothing is served from memory, and it is never coherent', async () => {
    const e = engines.make({ ttlMs: 0 });
    const db = new Source();
    db.set('a', 1, 'A');
    for (let i = 0; i < 3; i++) expect(await readOne(e, 'a', db.loader)).toEqual([1, 'A', 'load']);
    expect(db.loads).toBe(3);
    await db.write(e, 'a', 2, 'B');
    expect(e.peek(KIND, 'a')).toBeUndefined();
    expect(await readOne(e, 'a', db.loader)).toEqual([2, 'B', 'load']);
    expect(e.enabled).toBe(false);
    expect(e.coherent()).toBe(false);
    expect(e.stats()).toMatchObject({ enabled: false, coherent: false, redis: 'disabled', bus: 'disabled', hits: { l1: 0, l2: 0 } });
    await expect(e.ready(100)).resolves.toBeUndefined();
  });
});
