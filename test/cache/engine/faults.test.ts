import { describe, expect, it } from 'vitest';
import { TcpProxy, freePort } from '../../helpers/net.js';
import { Engines, KIND, Source, peekOne, readOne, sleep, storedPiece, uniqueNamespace, useOwnRedis, waitFor, type MakeOptions } from './helpers.js';

/** Short durations of their own: these tests wait out leases. */
const TIMEOUT = 50;
const LEASE = 1200;
const ACK_TIMEOUT = 100;

const own = useOwnRedis();
const engines = new Engines(); // after useOwnRedis: its afterEach runs first, while Redis is still there

async function pairOn(url: string, extra: MakeOptions = {}) {
  const namespace = uniqueNamespace();
  const opts = { namespace, redisUrl: url, leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT, ...extra };
  const a = engines.make({ ...opts, name: 'a' });
  const b = engines.make({ ...opts, name: 'b' });
  await Promise.all([a.ready(), b.ready()]);
  return { a, b, namespace };
}

describe('cache engine when Redis fails', () => {
  it('Redis paused (SIGSTOP): the first write degrades after a lease, later ones at once; the other instance has stopped serving L1; after SIGCONT the queued versions are replayed and the newest is served everywhere', async () => {
    const { redis, plain } = await own.start();
    const { a, b, namespace } = await pairOn(redis.url);
    const db = new Source();
    db.set('p', 1, 'v1');
    await readOne(b, 'p', db.loader);
    const journaled = await db.write(a, 'p', 2, 'v2', { journal: Buffer.from('j2') });
    expect(journaled).toMatchObject({ acks: 1, degraded: false });
    expect(peekOne(b, 'p')).toEqual([2, 'v2']);
    let journalResets = 0;
    a.events.on('journalReset', () => journalResets++);

    redis.pause();
    const t0 = performance.now();
    const first = db.write(a, 'p', 3, 'v3', { journal: Buffer.from('j3') });
    // What b serves at the very moment the write resolves.
    const atResolve = await first.then((r) => ({ r, ms: performance.now() - t0, bCoherent: b.coherent(), bPeek: b.peek(KIND, 'p') }));
    expect(atResolve.r).toMatchObject({ degraded: true, acks: 0, position: undefined });
    expect(atResolve.ms).toBeGreaterThanOrEqual(LEASE); // it waited out every lease...
    // ...once, not twice: a write call waits a lease for its reply, and a retry after it must not get a
    // lease of its own (it did: the first writes of an outage took two windows).
    expect(atResolve.ms).toBeLessThan(LEASE + TIMEOUT + LEASE / 2);
    expect(atResolve.bCoherent).toBe(false);
    expect(atResolve.bPeek).toBeUndefined();

    const second = await db.write(a, 'p', 4, 'v4');
    expect(second.degraded).toBe(true);
    expect(second.ms).toBeLessThan(LEASE / 4); // Redis has answered nothing for a lease: nobody to wait for
    expect(a.stats()).toMatchObject({ degradedPublishes: 2, pendingReplays: 2 }); // p's newest version, and the journal
    // Reads go on from the source.
    expect(await readOne(b, 'p', db.loader)).toEqual([4, 'v4', 'load']);
    expect(await readOne(a, 'p', db.loader)).toEqual([4, 'v4', 'load']);

    redis.resume();
    await waitFor(() => a.stats().pendingReplays === 0, 5000, 'the replay');
    expect(await storedPiece(plain, namespace, 'p')).toMatchObject({ v: 4 });
    expect(journalResets).toBe(1);
    expect(await a.journalRead(journaled.position!, 10)).toBeUndefined(); // notes were lost: positions start over
    await waitFor(() => a.coherent() && b.coherent(), 5000, 'both coherent again');
    for (const e of [a, b]) expect((await readOne(e, 'p', db.loader))?.slice(0, 2)).toEqual([4, 'v4']);
    expect(peekOne(b, 'p')).toEqual([4, 'v4']);
    // Writes wait for acknowledgements again.
    expect(await db.write(a, 'p', 5, 'v5')).toMatchObject({ degraded: false, acks: 1 });
    expect(peekOne(b, 'p')).toEqual([5, 'v5']);
  });

  it('Redis killed and restarted empty: reads go on from the source, L1 is flushed when trust returns, nothing stale after', async () => {
    const { redis } = await own.start();
    const { a, b, namespace } = await pairOn(redis.url);
    const db = new Source();
    db.set('p', 1, 'v1');
    db.set('q', 1, 'q1');
    await b.getMany(KIND, ['p', 'q'], db.loader);
    const states: string[] = [];
    a.events.on('redisState', (s) => states.push(s.state));

    await redis.kill();
    await waitFor(() => !b.coherent(), 2000, 'b stops trusting its L1 (its bus dropped)');
    expect(b.peek(KIND, 'p')).toBeUndefined();
    expect(await readOne(b, 'q', db.loader)).toEqual([1, 'q1', 'load']);
    const during = await db.write(a, 'p', 2, 'v2');
    expect(during.degraded).toBe(true);
    expect(a.stats()).toMatchObject({ redis: 'down', bus: 'down', coherent: false, pendingReplays: 1 });

    await redis.restart();
    await waitFor(() => a.coherent() && b.coherent(), 8000, 'both coherent after the restart');
    expect(states).toEqual(['down', 'up']);
    expect(b.stats().l1Flushes).toBeGreaterThanOrEqual(1);
    expect(b.peek(KIND, 'q')).toBeUndefined(); // flushed, although nobody wrote it
    await waitFor(() => a.stats().pendingReplays === 0, 5000, 'the replay');
    const plain = redis.client();
    own.cleanup(() => plain.disconnect());
    expect(await storedPiece(plain, namespace, 'p')).toMatchObject({ v: 2 });
    expect((await readOne(b, 'p', db.loader))?.slice(0, 2)).toEqual([2, 'v2']);
    expect(await db.write(a, 'p', 3, 'v3')).toMatchObject({ acks: 1, degraded: false });
    expect(peekOne(b, 'p')).toEqual([3, 'v3']);
  });

  it('a slow Redis (every reply later than the timeout, but every reply) does not open the breaker; a paused one does', async () => {
    const { redis } = await own.start();
    const proxy = await TcpProxy.start(redis.port);
    own.cleanup(() => proxy.close());
    const e = engines.make({ name: 'slow', redisUrl: proxy.redisUrl, leaseMs: 1500, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
    await e.ready();
    const db = new Source();
    let n = 0;
    /** One reader, one miss after another, until `done()` or for at most `ms`: every answer right, from the source. */
    const readUntil = async (ms: number, done: () => boolean = () => false): Promise<number> => {
      const end = performance.now() + ms;
      let reads = 0;
      while (performance.now() < end && !done()) {
        const id = `k${++n}`;
        db.set(id, 1, id);
        expect(await readOne(e, id, db.loader)).toEqual([1, id, 'load']);
        reads++;
      }
      return reads;
    };

    proxy.replyDelayMs = 3 * TIMEOUT; // every L2 read times out; its reply comes two timeouts later
    expect(await readUntil(1500)).toBeGreaterThan(5);
    expect(e.stats()).toMatchObject({ breakerOpens: 0, redis: 'up', coherent: true });

    proxy.replyDelayMs = 0;
    redis.pause();
    await readUntil(5000, () => e.stats().breakerOpens > 0);
    expect(e.stats()).toMatchObject({ breakerOpens: 1, redis: 'down' });
    redis.resume();
    await waitFor(() => e.stats().redis === 'up', 5000, 'the breaker closes');
  });

  it('a write through a slow Redis waits for the late replies: not degraded, acknowledged, journaled and sent once', async () => {
    const { redis, plain } = await own.start();
    const proxy = await TcpProxy.start(redis.port);
    own.cleanup(() => proxy.close());
    const namespace = uniqueNamespace();
    const opts = { namespace, leaseMs: 1500, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT };
    const a = engines.make({ ...opts, name: 'a', redisUrl: proxy.redisUrl });
    const b = engines.make({ ...opts, name: 'b', redisUrl: redis.url });
    await Promise.all([a.ready(), b.ready()]);
    let received = 0;
    b.events.on('applied', () => received++);

    proxy.replyDelayMs = 3 * TIMEOUT;
    const report = await new Source().write(a, 'p', 1, 'through a slow Redis', { journal: Buffer.from('note') });
    expect(report).toMatchObject({ degraded: false, acks: 1 });
    expect(report.position).toBeDefined();
    expect(report.ms).toBeLessThan(1500); // well before a would give up on Redis (a lease)
    expect(peekOne(b, 'p')).toEqual([1, 'through a slow Redis']);
    await sleep(4 * TIMEOUT); // anything a retry had sent would have arrived by now
    expect(await plain.xlen(`${namespace}:{coord}:journal`)).toBe(1);
    expect(received).toBe(1);
    expect(a.stats()).toMatchObject({ degradedPublishes: 0, pendingReplays: 0, breakerOpens: 0 });
    expect(await storedPiece(plain, namespace, 'p')).toMatchObject({ v: 1 });
  });

  it('Redis back for one instance before another has noticed: a write the late one answers without telling anyone is still not served stale, because trust returns only a moment after the first heartbeat', async () => {
    const { redis } = await own.start();
    const proxy = await TcpProxy.start(redis.port);
    own.cleanup(() => proxy.close());
    const namespace = uniqueNamespace();
    const opts = { namespace, leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT };
    const a = engines.make({ ...opts, name: 'a', redisUrl: proxy.redisUrl }); // the one that notices late
    const b = engines.make({ ...opts, name: 'b', redisUrl: redis.url });
    await Promise.all([a.ready(), b.ready()]);
    const db = new Source();
    db.set('p', 1, 'v1');

    // An outage long enough for a's window to pass: a now answers writes at once, telling nobody.
    redis.pause();
    await sleep(2 * LEASE); // the silence is seen within a renewal period and a timeout's grace, then a window
    expect(b.coherent()).toBe(false);
    // Redis comes back, but a does not see it yet (its path to Redis still hangs).
    proxy.pause();
    redis.resume();
    await sleep(250); // b's renewals (retried every 100 ms) have been heard back by now
    // b reads p meanwhile: version 1 from the source.
    expect((await readOne(b, 'p', db.loader))?.slice(0, 2)).toEqual([1, 'v1']);
    const w = await db.write(a, 'p', 2, 'v2');
    expect(w).toMatchObject({ degraded: true, acks: 0 });
    expect(w.ms).toBeLessThan(LEASE / 4); // answered at once: a broadcast nothing
    proxy.resume(); // a notices Redis at its next renewal and replays

    await waitFor(() => a.coherent() && b.coherent(), 5000, 'both coherent again');
    // Version 1, read while b was rejoining, was not kept: b serves the write a answered.
    expect((await readOne(b, 'p', db.loader))?.slice(0, 2)).toEqual([2, 'v2']);
    expect(peekOne(b, 'p')).toEqual([2, 'v2']);
  });

  it('a Redis that is not there: ready() rejects, every read loads, a write degrades after a lease', async () => {
    const e = engines.make({ redisUrl: `redis://127.0.0.1:${await freePort()}`, leaseMs: 300, redisTimeoutMs: TIMEOUT });
    await expect(e.ready(300)).rejects.toThrow(/not coherent/);
    const db = new Source();
    db.set('p', 1, 'v1');
    expect(await readOne(e, 'p', db.loader)).toEqual([1, 'v1', 'load']);
    expect(await readOne(e, 'p', db.loader)).toEqual([1, 'v1', 'load']);
    expect(db.loads).toBe(2);
    const r = await db.write(e, 'p', 2, 'v2');
    expect(r.degraded).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(300);
    expect(e.stats()).toMatchObject({ redis: 'down', bus: 'down', coherent: false, pendingReplays: 1, degradedPublishes: 1 });
  });
  it('versions queued while a replay is under way are replayed after it, with no read to prompt it', async () => {
    const { redis, plain } = await own.start();
    const namespace = uniqueNamespace();
    // A long lease: a replay's install waits that long for a paused Redis' late reply, which leaves
    // room to queue a second write behind it. The breaker stays shut (its reopening would replay too).
    const lease = 6000;
    const a = engines.make({ namespace, redisUrl: redis.url, leaseMs: lease, redisTimeoutMs: TIMEOUT, breakerThreshold: 1_000_000, name: 'a' });
    await a.ready();
    const db = new Source();

    redis.pause();
    expect(await db.write(a, 'p', 1, 'v1')).toMatchObject({ degraded: true }); // after a lease
    await sleep(500); // p's replay has been sent (100 ms after) and waits for Redis' reply
    expect(await db.write(a, 'q', 1, 'w1')).toMatchObject({ degraded: true }); // at once: queued while p's replay runs
    await sleep(500); // q's replay timer has fired while p's replay still ran (and found it running)
    expect(a.stats().pendingReplays).toBe(2);
    redis.resume();

    // Nothing reads from this engine: the replay that ran must hand over to one for what came meanwhile.
    await waitFor(() => a.stats().pendingReplays === 0, 2 * lease, 'both pieces replayed');
    expect(await storedPiece(plain, namespace, 'p')).toMatchObject({ v: 1 });
    expect(await storedPiece(plain, namespace, 'q')).toMatchObject({ v: 1 });
  }, 60_000);
});
