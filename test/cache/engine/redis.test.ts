import type { Redis } from 'ioredis';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Applied, CacheEvents } from '../../../src/cache/engine/index.js';
import { SHARED_REDIS_URL } from '../../helpers/redis.js';
import { Engines, KIND, Source, peekOne, pieceKeys, readOne, redisNowMs, sharedClient, sleep, storedPiece, waitFor, within } from './helpers.js';

const engines = new Engines();
let plain: Redis;
beforeAll(() => {
  plain = sharedClient();
});
afterAll(() => plain.disconnect());

const json = (s: string): Buffer => Buffer.from(JSON.stringify(s));

describe('two instances on one Redis: reads', () => {
  it('a piece loaded by one instance is served to the other from L2, then from its L1', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    db.set('p', 3, 'three');
    expect(await readOne(a, 'p', db.loader)).toEqual([3, 'three', 'load']);
    await waitFor(async () => (await storedPiece(plain, namespace, 'p')) !== undefined, 5000, 'the L2 fill');
    const other = new Source(); // b's loader: never asked
    expect(await readOne(b, 'p', other.loader)).toEqual([3, 'three', 'l2']);
    expect(await readOne(b, 'p', other.loader)).toEqual([3, 'three', 'l1']);
    expect(other.loads).toBe(0);
    expect(db.loads).toBe(1);
    expect(b.stats()).toMatchObject({ redis: 'up', bus: 'up', coherent: true, hits: { l1: 1, l2: 1 }, misses: 0 });
  });

  it('a piece in Redis is a hash {v, t, d}: the version, the Redis time it was read at, the codec bytes behind a format byte; it expires with ttlMs', async () => {
    const { a, namespace } = await engines.sharedPair({ ttlMs: 30_000 });
    const db = new Source();
    db.set('p', 7, 'seven');
    const t0 = await redisNowMs(plain);
    await readOne(a, 'p', db.loader);
    await waitFor(async () => (await storedPiece(plain, namespace, 'p')) !== undefined, 5000, 'the L2 fill');
    const t1 = await redisNowMs(plain);
    const stored = (await storedPiece(plain, namespace, 'p'))!;
    expect(stored.v).toBe(7);
    // Stamped with the load's start, never later than the truth: between t0 and t1 (a little before t0 at most).
    expect(stored.t).toBeGreaterThanOrEqual(t0 - 50);
    expect(stored.t).toBeLessThanOrEqual(t1);
    expect(stored.d[0]).toBe(0x00);
    expect(stored.d.subarray(1)).toEqual(json('seven'));
    const pttl = await plain.pttl(`${namespace}:{${KIND}:p}`);
    expect(pttl).toBeGreaterThan(20_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  it('a tombstone travels through L2 as an empty value', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    await db.write(a, 'p', 2, null);
    expect((await storedPiece(plain, namespace, 'p'))?.d).toEqual(Buffer.of(0x00));
    expect(peekOne(b, 'p')).toEqual([2, null]); // from the bus
    const c = engines.make({ name: 'c', redisUrl: SHARED_REDIS_URL, namespace });
    await c.ready();
    expect(await readOne(c, 'p', new Source().loader)).toEqual([2, null, 'l2']);
  });

  it('an L2 value that cannot be decoded is a miss: counted, loaded, and overwritten by the fill', async () => {
    const { a, namespace } = await engines.sharedPair();
    const db = new Source();
    db.set('p', 4, 'good');
    await plain.hset(`${namespace}:{${KIND}:p}`, 'v', '4', 't', String(await redisNowMs(plain)), 'd', Buffer.from([0x07, 1, 2, 3]));
    expect(await readOne(a, 'p', db.loader)).toEqual([4, 'good', 'load']);
    expect(a.stats().corruptEntries).toBe(1);
    await waitFor(async () => (await storedPiece(plain, namespace, 'p'))?.d[0] === 0x00, 5000, 'the repaired fill');
    expect((await storedPiece(plain, namespace, 'p'))?.d.subarray(1)).toEqual(json('good'));
  });

  it('values of compressMinBytes or more are stored deflated (first byte 0x01) and read back; short ones raw', async () => {
    const { a, b, namespace } = await engines.sharedPair({ compressMinBytes: 64 });
    const db = new Source();
    const long = 'conversation '.repeat(200);
    // A load stores what it read deflated when it is long enough; a write's value goes raw (a piece a
    // write just changed is likely to change again soon: its CPU is not worth the bytes).
    db.set('long', 1, long);
    db.set('short', 1, 'tiny');
    await readOne(a, 'long', db.loader);
    await readOne(a, 'short', db.loader);
    await waitFor(async () => (await storedPiece(plain, namespace, 'short')) !== undefined && (await storedPiece(plain, namespace, 'long')) !== undefined, 5000, 'the fills');
    const storedLong = (await storedPiece(plain, namespace, 'long'))!;
    expect(storedLong.d[0]).toBe(0x01);
    expect(storedLong.d.length).toBeLessThan(json(long).length / 4);
    expect(inflateRawSync(storedLong.d.subarray(1))).toEqual(json(long));
    expect((await storedPiece(plain, namespace, 'short'))!.d).toEqual(Buffer.concat([Buffer.of(0x00), json('tiny')]));
    expect(a.stats().l2ValuesWritten).toBe(2);
    expect(a.stats().l2BytesWritten).toBe(storedLong.d.length + 1 + json('tiny').length);
    // Another instance reads them from L2.
    const none = new Source();
    expect(await readOne(b, 'long', none.loader)).toEqual([1, long, 'l2']);
    expect(await readOne(b, 'short', none.loader)).toEqual([1, 'tiny', 'l2']);
    expect(none.loads).toBe(0);
    await db.write(a, 'long', 2, long);
    expect((await storedPiece(plain, namespace, 'long'))!.d[0]).toBe(0x00);
  });

  it('compressMinBytes 0 never compresses', async () => {
    const { a, namespace } = await engines.sharedPair({ compressMinBytes: 0 });
    const long = 'x'.repeat(5000);
    await new Source().write(a, 'p', 1, long);
    expect((await storedPiece(plain, namespace, 'p'))!.d).toEqual(Buffer.concat([Buffer.of(0x00), json(long)]));
  });
});

describe('two instances on one Redis: publish', () => {
  it('a write on a is served by b as soon as publish() resolves, and b acknowledged it', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    db.set('p', 1, 'old');
    await readOne(b, 'p', db.loader);
    expect(peekOne(b, 'p')).toEqual([1, 'old']);
    const seen: Array<CacheEvents['applied']> = [];
    b.events.on('applied', (x) => seen.push(x));
    const settled: string[] = [];
    b.events.on('settled', (s) => settled.push(s.messageId));
    // b pushes to clients: it asks to hear when a write is applied everywhere (a renewal registers it).
    b.wantSettlements(true);
    await waitFor(async () => (await plain.zscore(`${namespace}:{coord}:settlers`, b.instanceId)) !== null, 5000, "b's settler registration");

    const report = await db.write(a, 'p', 2, 'new', { note: Buffer.from('push me') });
    // No waiting here: the contract is about the moment publish() resolves.
    expect(peekOne(b, 'p')).toEqual([2, 'new']);
    expect(report).toMatchObject({ pieces: 1, acks: 1, degraded: false, waitedForLeaseMs: 0 });
    expect(await readOne(b, 'p', db.loader)).toEqual([2, 'new', 'l1']);
    expect(db.loads).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ origin: 'remote', updates: [{ kind: KIND, id: 'p', version: 2, value: 'new' }] });
    expect(seen[0]?.note?.toString()).toBe('push me');
    // Then 'settled': every live instance has it (b learns it from a's last message).
    await waitFor(() => settled.length === 1, 5000, "b's settled");
    expect(settled[0]).toBe(seen[0]!.messageId);
    expect((await storedPiece(plain, namespace, 'p'))?.v).toBe(2);
    expect(b.stats().received).toBe(1);
    expect(a.stats().published).toBe(1);
  });

  it('settlement is announced only while another instance wants it', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    const settled: string[] = [];
    b.events.on('settled', (s) => settled.push(s.messageId));
    await db.write(a, 'q', 1, 'one');
    await sleep(300);
    expect(settled).toEqual([]); // nobody asked: no announcement (a message less per write)
    b.wantSettlements(true);
    await waitFor(async () => (await plain.zscore(`${namespace}:{coord}:settlers`, b.instanceId)) !== null, 5000, "b's settler registration");
    await db.write(a, 'q', 2, 'two');
    await waitFor(() => settled.length === 1, 5000, "b's settled");
    b.wantSettlements(false);
    await waitFor(async () => (await plain.zscore(`${namespace}:{coord}:settlers`, b.instanceId)) === null, 5000, "b's settler registration gone");
  });

  it('the bus carries several pieces, tombstones, bytes of any kind and a note intact; garbage on the channel is ignored', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const seen: Array<CacheEvents['applied']> = [];
    b.events.on('applied', (x) => seen.push(x));
    await plain.publish(`${namespace}:bus`, 'not a message');
    await plain.publish(`${namespace}:bus`, '\nU{"o":"x","m":"y","t":0,"u":[["note","p",1,999]],"n":-1}\nshort');
    const odd = 'line one\nline two\n\u00e9\u{1F600} "quoted" \\ U{not a header}';
    const report = await a.publish(
      [
        { kind: KIND, id: 'p', version: 3, value: odd },
        { kind: KIND, id: 'gone', version: 2, value: null },
        { kind: 'other', id: 'p', version: 1, value: '' },
      ],
      { note: Buffer.from([0x0a, 0x00, 0xff, 0x55]) },
    );
    expect(report.acks).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.updates).toEqual([
      { kind: KIND, id: 'p', version: 3, value: odd },
      { kind: KIND, id: 'gone', version: 2, value: null },
      { kind: 'other', id: 'p', version: 1, value: '' },
    ]);
    expect(seen[0]!.note).toEqual(Buffer.from([0x0a, 0x00, 0xff, 0x55]));
    expect(peekOne(b, 'p')).toEqual([3, odd]);
    expect(peekOne(b, 'gone')).toEqual([2, null]);
    expect(b.peek('other', 'p')).toMatchObject({ version: 1, value: '' });
    expect(b.stats().received).toBe(3);
  });

  it('a load in flight on b that read the old version is not kept after a publishes (L1 and Redis keep the new one)', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    db.set('p', 1, 'old');
    const held = db.held();
    const inFlight = b.getMany<string>(KIND, ['p'], held.loader);
    await held.started; // b's query has read version 1
    const refusedBefore = b.stats().staleFillsRefused;
    await db.write(a, 'p', 2, 'new');
    held.release();
    expect((await inFlight).get('p')?.entry).toMatchObject({ version: 1, value: 'old' }); // its caller started before the write
    // Refused twice: for b's L1 (a newer version was applied while it ran) and by Redis' compare-and-set.
    await waitFor(() => b.stats().staleFillsRefused === refusedBefore + 2, 5000, 'both refusals');
    expect(peekOne(b, 'p')).toEqual([2, 'new']);
    expect((await storedPiece(plain, namespace, 'p'))?.v).toBe(2);
    expect((await storedPiece(plain, namespace, 'p'))?.d.subarray(1)).toEqual(json('new'));
  });

  it('a reader on b after a publish does not join a load that started before it', async () => {
    // Versions only on the bus (values above maxMessageBytes): b keeps a floor, so the later reader
    // is not answered by L1 and would find the old load, were it still shared.
    const { a, b } = await engines.sharedPair({ maxMessageBytes: 4 });
    const db = new Source();
    db.set('p', 1, 'old');
    const held = db.held();
    const inFlight = b.getMany<string>(KIND, ['p'], held.loader);
    await held.started;
    await db.write(a, 'p', 2, 'new');
    const after = await within(readOne(b, 'p', db.loader), 5000, "the later reader's getMany");
    expect(after).toEqual([2, 'new', 'l2']);
    held.release();
    expect((await inFlight).get('p')?.entry.version).toBe(1);
    expect(peekOne(b, 'p')).toEqual([2, 'new']);
  });

  it('a version announced without its value is kept as a floor: not served, and nothing older is stored over it', async () => {
    const { a, b } = await engines.sharedPair({ maxMessageBytes: 4 });
    const db = new Source();
    db.set('p', 1, 'old');
    await readOne(b, 'p', db.loader);
    const seen: Applied[] = [];
    b.events.on('applied', (x) => seen.push(...x.updates));
    const report = await db.write(a, 'p', 2, 'too large for the bus');
    expect(report.acks).toBe(1);
    expect(seen).toEqual([{ kind: KIND, id: 'p', version: 2, value: undefined }]);
    expect(b.peek(KIND, 'p')).toBeUndefined();
    // A lagging read of version 1 answers its caller but does not go under the floor.
    const lagging = new Source();
    lagging.set('p', 1, 'old');
    expect(await readOne(b, 'p', lagging.loader, { fresh: true })).toEqual([1, 'old', 'load']);
    expect(b.peek(KIND, 'p')).toBeUndefined();
    // A normal read finds version 2 in L2 (a installed it before publish() resolved), and keeps it.
    expect(await readOne(b, 'p', db.loader)).toEqual([2, 'too large for the bus', 'l2']);
    expect(peekOne(b, 'p')).toEqual([2, 'too large for the bus']);
  });

  it("a 'fresh' reload of the same version replaces it in L1 and in Redis", async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    db.set('p', 5, 'first reading');
    await readOne(a, 'p', db.loader);
    await waitFor(async () => (await storedPiece(plain, namespace, 'p')) !== undefined, 5000, 'the L2 fill');
    db.set('p', 5, 'second reading');
    expect(await readOne(a, 'p', db.loader, { fresh: true })).toEqual([5, 'second reading', 'load']);
    expect(peekOne(a, 'p')).toEqual([5, 'second reading']);
    await waitFor(async () => (await storedPiece(plain, namespace, 'p'))?.d.subarray(1).equals(json('second reading')) === true, 5000, 'the fresh fill');
    expect(await readOne(b, 'p', new Source().loader)).toEqual([5, 'second reading', 'l2']);
  });

  it('compare-and-set in Redis: an older version is refused, by a write published late or by a lagging load', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    await db.write(a, 'p', 5, 'five');
    const late = await b.publish([{ kind: KIND, id: 'p', version: 3, value: 'three' }]);
    expect(late.degraded).toBe(false);
    expect(await storedPiece(plain, namespace, 'p')).toMatchObject({ v: 5 });
    expect(peekOne(a, 'p')).toEqual([5, 'five']);
    expect(peekOne(b, 'p')).toEqual([5, 'five']);

    const refused = b.stats().staleFillsRefused;
    const lagging = new Source();
    lagging.set('p', 4, 'four');
    expect(await readOne(b, 'p', lagging.loader, { fresh: true })).toEqual([4, 'four', 'load']);
    await waitFor(() => b.stats().staleFillsRefused === refused + 1, 5000, "Redis' refusal of the lagging fill");
    const stored = (await storedPiece(plain, namespace, 'p'))!;
    expect(stored.v).toBe(5);
    expect(stored.d.subarray(1)).toEqual(json('five'));
    expect(peekOne(b, 'p')).toEqual([5, 'five']);
    // A newer version is installed over it.
    await db.write(b, 'p', 6, 'six');
    expect(await storedPiece(plain, namespace, 'p')).toMatchObject({ v: 6 });
    expect(peekOne(a, 'p')).toEqual([6, 'six']);
  });

  it("mode 'fast' does not wait for acknowledgements, and the other instance still applies the write", async () => {
    const { a, b } = await engines.sharedPair({ mode: 'fast' });
    const db = new Source();
    db.set('p', 1, 'old');
    await readOne(b, 'p', db.loader);
    const report = await db.write(a, 'p', 2, 'new');
    expect(report).toMatchObject({ acks: 0, waitedForLeaseMs: 0, degraded: false });
    await waitFor(() => peekOne(b, 'p')?.[0] === 2, 5000, 'b applies the write');
    expect(a.stats().mode).toBe('fast');
  });

  it('a closed instance leaves the registry: writers do not wait for it', async () => {
    const { a, b } = await engines.sharedPair({ leaseMs: 3000 });
    await b.close();
    const report = await new Source().write(a, 'p', 1, 'x');
    expect(report).toMatchObject({ acks: 0, waitedForLeaseMs: 0, degraded: false });
    expect(report.ms).toBeLessThan(1500); // far from b's lease (3 s), had a waited for it
  });

  it('clear() empties both instances and the pieces in Redis', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    for (const id of ['p', 'q']) db.set(id, 1, id);
    for (const e of [a, b]) await e.getMany<string>(KIND, ['p', 'q'], db.loader);
    await waitFor(async () => (await pieceKeys(plain, namespace)).length === 2, 5000, 'the L2 fills');
    let bCleared = 0;
    b.events.on('cleared', () => bCleared++);
    await a.clear();
    expect(bCleared).toBe(1);
    for (const e of [a, b]) for (const id of ['p', 'q']) expect(e.peek(KIND, id)).toBeUndefined();
    expect(await pieceKeys(plain, namespace)).toEqual([]);
    expect(await plain.exists(`${namespace}:{coord}:registry`)).toBe(1); // coordination is kept
    db.set('p', 2, 'after');
    expect(await readOne(b, 'p', db.loader)).toEqual([2, 'after', 'load']);
  });

  it('clear(): a read during the clear, on either instance, does not bring a value from before it back', async () => {
    const { a, b, namespace } = await engines.sharedPair();
    const db = new Source();
    db.set('p', 1, 'cached before the clear');
    await readOne(a, 'p', db.loader);
    await waitFor(async () => (await storedPiece(plain, namespace, 'p')) !== undefined, 5000, 'the L2 fill');
    await readOne(b, 'p', db.loader);
    db.set('p', 1, 'read from the source'); // what the clear is for: the cache's bytes are not to be served again
    // Each instance reads the piece the moment it has flushed (traffic does not stop for a clear).
    const during: Array<Promise<unknown>> = [];
    for (const e of [a, b]) e.events.on('cleared', () => during.push(e.getMany(KIND, ['p'], db.loader)));
    await a.clear();
    await Promise.all(during);
    for (const e of [a, b]) expect(e.peek<string>(KIND, 'p')?.value).not.toBe('cached before the clear');
    const stored = await storedPiece(plain, namespace, 'p');
    expect(stored === undefined || stored.d.subarray(1).equals(json('read from the source'))).toBe(true);
    for (const e of [a, b]) expect((await readOne(e, 'p', db.loader))?.[1]).toBe('read from the source');
  });
});
