import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { CacheEngine } from '../../../src/cache/engine/index.js';
import { TcpProxy, freePort } from '../../helpers/net.js';
import { TestRedis } from '../../helpers/redis.js';
import { Engines, countingLoader, heldLoader, text, uniqueNamespace, val, waitFor, warm } from './helpers.js';

/** Redis timeout in these tests, and the bound a get must keep while Redis misbehaves. */
const TIMEOUT = 50;
const GET_BOUND = 250;
const LEASE = 600;
const ACK_TIMEOUT = 100;

const engines = new Engines();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await engines.closeAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startRedis(): Promise<{ redis: TestRedis; plain: Redis }> {
  const redis = await TestRedis.start();
  const plain = redis.client();
  plain.on('error', () => undefined); // it is killed and paused along with the server
  cleanups.push(() => redis.stop(), () => plain.disconnect());
  return { redis, plain };
}

/** Two coherent engines on a private Redis, b reaching it through a proxy the test can freeze. */
async function pairWithBBehindProxy(): Promise<{ a: CacheEngine; b: CacheEngine; proxy: TcpProxy }> {
  const { redis } = await startRedis();
  const proxy = await TcpProxy.start(redis.port);
  cleanups.push(() => proxy.close());
  const namespace = uniqueNamespace();
  const a = engines.make({ namespace, redisUrl: redis.url, name: 'a', leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
  const b = engines.make({ namespace, redisUrl: `redis://127.0.0.1:${proxy.port}`, name: 'b', leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
  await Promise.all([a.ready(), b.ready()]);
  return { a, b, proxy };
}

/**
 * Runs get() repeatedly for `ms` (the loader returns `current()`) and returns the slowest call.
 * Every answer must be `current()`, or one of `alsoAllowed` (values legitimately still in flight).
 */
async function hammer(e: CacheEngine, ms: number, current: () => string, alsoAllowed: readonly string[] = []): Promise<number> {
  let worst = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await e.get('g', 'f', countingLoader(current).load);
    worst = Math.max(worst, performance.now() - t0);
    expect([current(), ...alsoAllowed]).toContain(text(r.entry.value));
    await new Promise((r) => setTimeout(r, 15));
  }
  return worst;
}

describe('cache engine under Redis faults', () => {
  it("a writer that gets no ack waits out the silent instance's lease (b's path to Redis frozen)", async () => {
    const { a, b, proxy } = await pairWithBBehindProxy();
    let current = 'old';
    await warm(b, 'g', 'f', countingLoader(() => current).load);
    expect(text(b.peek('g', 'f')?.value)).toBe('old');

    proxy.pause(); // b can neither receive the invalidation, nor ack, nor renew its lease
    current = 'new';
    const report = await a.invalidate(['g']);
    expect(report.acks).toBe(0);
    expect(report.degraded).toBe(false);
    expect(report.waitedForLeaseMs).toBeGreaterThan(0);
    expect(report.ms).toBeGreaterThan(LEASE / 3); // it really waited, for b's registry expiry
    expect(report.ms).toBeLessThan(LEASE + 300);
    // b stopped trusting its L1 by itself, before a stopped waiting.
    expect(b.peek('g', 'f')).toBeUndefined();
    const t0 = performance.now();
    const rb = await b.get('g', 'f', countingLoader(() => current).load);
    expect(performance.now() - t0).toBeLessThan(GET_BOUND);
    expect(text(rb.entry.value)).toBe('new');

    proxy.resume();
    await waitFor(() => b.stats().coherent, 5000, 'b coherent again');
    expect(b.stats().l1Flushes).toBeGreaterThanOrEqual(1);
    expect(text((await b.get('g', 'f', countingLoader(() => current).load)).entry.value)).toBe('new');
  });

  it('a silent instance that holds none of the groups costs the writer nothing (not registered for them)', async () => {
    const { a, b, proxy } = await pairWithBBehindProxy();
    await warm(b, 'other', 'f', async () => val('x'));
    proxy.pause();
    const report = await a.invalidate(['g']);
    expect(report).toMatchObject({ acks: 0, waitedForLeaseMs: 0, degraded: false });
    expect(report.ms).toBeLessThan(LEASE / 3);
    // The group b does hold is still waited for, as above.
    const other = await a.invalidate(['other']);
    expect(other.ms).toBeGreaterThan(LEASE / 3);
    proxy.resume();
  });

  it("a load in flight when the instance lost its lease is not joined: a writer that waited out the lease is not undone", async () => {
    const { a, b, proxy } = await pairWithBBehindProxy();
    // b's load has asked Redis and is reading the database when b is cut off from Redis.
    const slow = heldLoader('read before the write');
    const pending = b.get('g', 'f', slow.load);
    await slow.started;
    proxy.pause(); // b misses the invalidation; a waits for b's lease to expire instead of its ack
    const report = await a.invalidate(['g']);
    expect(report).toMatchObject({ acks: 0, degraded: false });
    // A getter after invalidate() resolved must get a value read after it, not the load in flight.
    setTimeout(slow.release, 300); // were it joined, it would get this old value once released
    const r = await b.get('g', 'f', async () => val('read after the write'));
    expect(text(r.entry.value)).toBe('read after the write');
    expect(text((await pending).entry.value)).toBe('read before the write');
    proxy.resume();
  });

  it('CLIENT KILL TYPE pubsub: the bus reconnects, L1 is flushed, nothing stale is served', async () => {
    const { plain, redis } = await startRedis();
    const namespace = uniqueNamespace();
    const a = engines.make({ namespace, redisUrl: redis.url, name: 'a', leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
    const b = engines.make({ namespace, redisUrl: redis.url, name: 'b', leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
    await Promise.all([a.ready(), b.ready()]);
    let current = 'old';
    await warm(b, 'g', 'f', countingLoader(() => current).load);
    await warm(b, 'g', 'other', countingLoader(() => 'kept?').load);
    const states: string[] = [];
    b.events.on('busState', (s) => states.push(s.state));
    const flushesBefore = b.stats().l1Flushes;

    expect(Number(await plain.client('KILL', 'TYPE', 'pubsub'))).toBeGreaterThanOrEqual(2);
    current = 'new';
    await a.invalidate(['g']);
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(text((await b.get('g', 'f', countingLoader(() => current).load)).entry.value)).toBe('new');

    await waitFor(() => a.stats().coherent && b.stats().coherent, 5000, 'coherent again');
    expect(states).toEqual(['down', 'up']);
    expect(b.stats().l1Flushes).toBeGreaterThan(flushesBefore);
    expect(b.peek('g', 'other')).toBeUndefined(); // flushed, although nobody invalidated it
    // The bus works again: a fresh invalidation reaches b with an ack.
    await warm(b, 'g', 'f', countingLoader(() => current).load);
    current = 'newer';
    const report = await a.invalidate(['g']);
    expect(report.acks).toBe(1);
    expect(b.peek('g', 'f')).toBeUndefined();
  });

  it('Redis killed and restarted: gets stay within the timeout, L1 is flushed on reconnect, nothing stale after', async () => {
    const { redis } = await startRedis();
    const namespace = uniqueNamespace();
    const a = engines.make({ namespace, redisUrl: redis.url, name: 'a', leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
    const b = engines.make({ namespace, redisUrl: redis.url, name: 'b', leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT });
    await Promise.all([a.ready(), b.ready()]);
    let current = 'v1';
    await a.get('g', 'f', countingLoader(() => current).load);
    const redisStates: string[] = [];
    a.events.on('redisState', (s) => redisStates.push(s.state));

    await redis.kill();
    expect(await hammer(a, LEASE + 200, () => current)).toBeLessThan(GET_BOUND);
    expect(a.peek('g', 'f')).toBeUndefined(); // lease lapsed: L1 not served without a bus
    expect(a.stats()).toMatchObject({ redis: 'down', bus: 'down', coherent: false });

    await redis.restart();
    await waitFor(() => a.stats().coherent && b.stats().coherent, 8000, 'coherent after restart');
    expect(redisStates).toEqual(['down', 'up']);
    expect(a.stats().l1Flushes).toBeGreaterThanOrEqual(1);
    const r = await a.get('g', 'f', countingLoader(() => current).load);
    expect(r.source).toBe('load'); // L1 flushed, L2 empty after the restart
    current = 'v2';
    const report = await b.invalidate(['g']);
    expect(report).toMatchObject({ acks: 1, degraded: false });
    expect(a.peek('g', 'f')).toBeUndefined();
    expect(text((await a.get('g', 'f', countingLoader(() => current).load)).entry.value)).toBe('v2');
  });

  it('Redis paused (SIGSTOP) then resumed: bounded gets, breaker, degraded invalidate replayed, nothing stale', async () => {
    const { redis, plain } = await startRedis();
    const namespace = uniqueNamespace();
    const opts = { namespace, redisUrl: redis.url, leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT, breakerThreshold: 3 };
    const a = engines.make({ ...opts, name: 'a' });
    const b = engines.make({ ...opts, name: 'b' });
    await Promise.all([a.ready(), b.ready()]);
    let current = 'old';
    await a.get('g', 'f', countingLoader(() => current).load);
    await waitFor(async () => (await plain.hexists(`${namespace}:{g}:e`, 'f')) === 1, 5000, 'L2 fill');
    expect((await b.get('g', 'f', countingLoader(() => current).load)).source).toBe('l2');
    let breakerOpened = 0;
    b.events.on('breakerOpen', () => breakerOpened++);

    redis.pause();
    // A miss on a hung Redis costs one timeout, not more.
    const t0 = performance.now();
    await b.get('g', 'not-cached', countingLoader(() => 'x').load);
    expect(performance.now() - t0).toBeLessThan(GET_BOUND);

    current = 'new'; // the database write, then its invalidation while Redis is hung
    const inv = a.invalidate(['g']);
    // Until invalidate() resolves, b may still serve 'old' from its L1 (the write is not "done" yet).
    expect(await hammer(b, 300, () => current, ['old'])).toBeLessThan(GET_BOUND);
    const report = await inv; // never throws
    expect(report.degraded).toBe(true);
    expect(report.ms).toBeGreaterThanOrEqual(LEASE);
    // Every lease has lapsed by the time a degraded invalidate resolves: nobody serves 'old' from L1.
    expect(a.peek('g', 'f')).toBeUndefined();
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(a.stats().pendingReplays).toBe(1);
    expect(await hammer(b, 300, () => current)).toBeLessThan(GET_BOUND);
    expect(breakerOpened).toBe(1);
    expect(b.stats().breakerOpens).toBe(1);

    redis.resume();
    await waitFor(() => a.stats().pendingReplays === 0, 5000, 'replay');
    await waitFor(() => a.stats().coherent && b.stats().coherent, 5000, 'coherent again');
    expect(await plain.hexists(`${namespace}:{g}:e`, 'f')).toBe(0); // the replay dropped the old entry
    for (const e of [a, b]) expect(text((await e.get('g', 'f', countingLoader(() => current).load)).entry.value)).toBe('new');
    expect(b.stats().redis).toBe('up');
  });

  it('after a lapse, L2 entries stored before trust came back are not trusted (writer died before its replay)', async () => {
    const { redis, plain } = await startRedis();
    // The writer reaches Redis through a proxy, so that its attempts during the outage can be lost for
    // good (a paused Redis would otherwise run them on SIGCONT, from its socket buffers).
    const proxy = await TcpProxy.start(redis.port);
    cleanups.push(() => proxy.close());
    const namespace = uniqueNamespace();
    const opts = { namespace, leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT };
    const a = engines.make({ ...opts, redisUrl: `redis://127.0.0.1:${proxy.port}`, name: 'a' });
    const b = engines.make({ ...opts, redisUrl: redis.url, name: 'b' });
    await Promise.all([a.ready(), b.ready()]);
    let current = 'old';
    await a.get('g', 'f', countingLoader(() => current).load);
    await waitFor(async () => (await plain.hexists(`${namespace}:{g}:e`, 'f')) === 1, 5000, 'L2 fill');

    redis.pause();
    proxy.pause();
    current = 'new';
    expect((await a.invalidate(['g'])).degraded).toBe(true);
    await a.close(); // its queued replay dies with it
    proxy.dropConnections(); // and so do the bytes it sent meanwhile
    redis.resume();
    await waitFor(() => b.stats().coherent, 5000, 'b coherent again');
    expect(await plain.hexists(`${namespace}:{g}:e`, 'f')).toBe(1); // the stale entry is still there
    const r = await b.get('g', 'f', countingLoader(() => current).load);
    expect(r.source).toBe('load');
    expect(text(r.entry.value)).toBe('new');
  });

  it('no Redis at all behind the URL: gets answer from the loader at once, ready() times out, invalidate degrades', async () => {
    const port = await freePort();
    const e = engines.make({ namespace: uniqueNamespace(), redisUrl: `redis://127.0.0.1:${port}`, leaseMs: 300 });
    const l = countingLoader(() => 'v');
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) expect((await e.get('g', 'f', l.load)).source).toBe('load');
    expect(performance.now() - t0).toBeLessThan(GET_BOUND);
    expect(l.calls()).toBe(5); // never coherent: nothing kept in L1
    await expect(e.ready(100)).rejects.toThrow(/not coherent/);
    const report = await e.invalidate(['g']);
    expect(report.degraded).toBe(true);
    expect(report.ms).toBeGreaterThanOrEqual(300);
    expect(e.stats()).toMatchObject({ redis: 'down', bus: 'down', coherent: false, pendingReplays: 1 });
  });
});
