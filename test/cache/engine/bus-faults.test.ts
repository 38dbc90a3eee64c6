import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Applied, Engine } from '../../../src/cache/engine/index.js';
import { TcpProxy } from '../../helpers/net.js';
import { Engines, KIND, Source, peekOne, readOne, sleep, uniqueNamespace, useOwnRedis, waitFor, within } from './helpers.js';

const TIMEOUT = 50;
const LEASE = 1200;
const ACK_TIMEOUT = 100;

const own = useOwnRedis();
const engines = new Engines();

/** a and b on a Redis of their own; `behindProxy` reaches it through a TcpProxy the test can freeze. */
async function pair(behindProxy: 'a' | 'b' | 'none'): Promise<{ a: Engine; b: Engine; plain: Redis; proxy: TcpProxy; namespace: string }> {
  const { redis, plain } = await own.start();
  const proxy = await TcpProxy.start(redis.port);
  own.cleanup(() => proxy.close());
  const namespace = uniqueNamespace();
  const url = (who: 'a' | 'b') => (behindProxy === who ? `redis://127.0.0.1:${proxy.port}` : redis.url);
  const opts = { namespace, leaseMs: LEASE, redisTimeoutMs: TIMEOUT, ackTimeoutMs: ACK_TIMEOUT };
  const a = engines.make({ ...opts, name: 'a', redisUrl: url('a') });
  const b = engines.make({ ...opts, name: 'b', redisUrl: url('b') });
  await Promise.all([a.ready(), b.ready()]);
  return { a, b, plain, proxy, namespace };
}

/** Closes one instance's subscriber connection, by its client id (no other client is touched). */
async function killSubscriber(plain: Redis, namespace: string, e: Engine): Promise<void> {
  const list = String(await plain.client('LIST'));
  const line = list.split('\n').find((l) => l.includes(` name=${namespace}:${e.name}:${e.instanceId}:sub `));
  const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
  expect(id, 'the subscriber connection').toBeDefined();
  expect(Number(await plain.client('KILL', 'ID', id!))).toBe(1);
}

describe('instances that cannot hear or answer the bus', () => {
  it('an instance that does not acknowledge is waited for until its lease expires, and has stopped serving L1 by then', async () => {
    const { a, b, proxy } = await pair('b');
    const db = new Source();
    db.set('p', 1, 'old');
    await readOne(b, 'p', db.loader);
    expect(peekOne(b, 'p')).toEqual([1, 'old']);

    proxy.pause(); // b can neither receive the write, nor acknowledge it, nor renew its lease
    const atResolve = await db.write(a, 'p', 2, 'new').then((r) => ({ r, bCoherent: b.coherent(), bPeek: b.peek(KIND, 'p') }));
    expect(atResolve.r).toMatchObject({ acks: 0, degraded: false });
    expect(atResolve.r.waitedForLeaseMs).toBeGreaterThan(0);
    expect(atResolve.r.ms).toBeGreaterThan(ACK_TIMEOUT); // it did wait, for b's lease...
    expect(atResolve.r.ms).toBeLessThan(LEASE + 500); // ...not for longer than the lease
    expect(atResolve.bCoherent).toBe(false);
    expect(atResolve.bPeek).toBeUndefined();
    // b answers from the source meanwhile (its L2 read times out), with the new version.
    expect(await readOne(b, 'p', db.loader)).toEqual([2, 'new', 'load']);

    proxy.resume();
    await waitFor(() => b.coherent(), 5000, 'b coherent again');
    expect(b.stats().l1Flushes).toBeGreaterThanOrEqual(1);
    expect((await readOne(b, 'p', db.loader))?.slice(0, 2)).toEqual([2, 'new']);
    expect(await db.write(a, 'p', 3, 'newer')).toMatchObject({ acks: 1, waitedForLeaseMs: 0 });
    expect(peekOne(b, 'p')).toEqual([3, 'newer']);
  });

  it('a message lost on the way while the heartbeats go on (a cluster subscriber moved to another node, a cluster-bus link dropped): the next numbered message shows the gap, and L1 is flushed before that message extends the lease', async () => {
    const { b, plain, namespace } = await pair('none');
    const db = new Source();
    db.set('p', 1, 'old');
    await readOne(b, 'p', db.loader);
    expect(peekOne(b, 'p')).toEqual([1, 'old']);
    const flushes = b.stats().l1Flushes;

    // What a lost broadcast leaves: the new version in the source, and b's inbox numbered past a
    // message that never reached it. b's bus never dropped, so nothing else would tell it.
    db.set('p', 2, 'new');
    await plain.hincrby(`${namespace}:{coord}:seq`, b.instanceId, 1);
    await waitFor(() => b.stats().l1Flushes > flushes, LEASE, 'b hears its next heartbeat, numbered one too far');
    expect(b.coherent()).toBe(true); // not a lapse: the lease goes on
    expect(b.peek(KIND, 'p')).toBeUndefined();
    // What Redis held from before the gap is not taken either (the lost write's install may be missing).
    expect(await readOne(b, 'p', db.loader)).toEqual([2, 'new', 'load']);
    expect(peekOne(b, 'p')).toEqual([2, 'new']);
  });

  it('a load in flight while the instance lost its lease is neither joined nor kept once trust returns', async () => {
    const { a, b, plain, namespace } = await pair('none');
    const db = new Source();
    db.set('p', 1, 'p1');
    db.set('q', 1, 'q1');
    const held = db.held();
    const inFlight = b.getMany<string>(KIND, ['p', 'q'], held.loader);
    await held.started; // b has asked Redis, and its query has read version 1 of both

    // b's bus drops, and the write is broadcast before b can subscribe again: b never hears of it
    // (a waits for b's lease instead of its ack).
    await killSubscriber(plain, namespace, b);
    db.set('p', 2, 'p2');
    db.set('q', 2, 'q2');
    const report = await a.publish([
      { kind: KIND, id: 'p', version: 2, value: 'p2' },
      { kind: KIND, id: 'q', version: 2, value: 'q2' },
    ]);
    expect(report).toMatchObject({ acks: 0, degraded: false });
    await waitFor(() => b.coherent() && b.stats().l1Flushes >= 1, 5000, 'b flushed and coherent again');
    // A reader now must not get the load from before the lapse (it would wait for it, and get version 1).
    expect(await within(readOne(b, 'q', db.loader), 3000, 'a read after b regained trust')).toEqual([2, 'q2', 'load']);
    held.release();
    const old = await inFlight;
    expect([old.get('p')?.entry.version, old.get('q')?.entry.version]).toEqual([1, 1]); // its own caller started before the write
    expect(b.peek(KIND, 'p')).toBeUndefined(); // version 1, read before b lost trust, was not kept
    expect(peekOne(b, 'q')).toEqual([2, 'q2']);
    expect(await readOne(b, 'p', db.loader)).toEqual([2, 'p2', 'load']);
  });

  it('a message Redis delivers late (stamped before the receiver regained trust) is kept as a floor only: not served', async () => {
    const { a, b, plain, proxy, namespace } = await pair('a');
    const db = new Source();
    db.set('p', 1, 'v1');
    await readOne(b, 'p', db.loader);

    proxy.pause(); // a's write reaches Redis only later
    const write = db.write(a, 'p', 2, 'v2');
    await sleep(20); // its commands are on their way (held in the proxy)
    // Meanwhile b loses its bus, and regains trust (flushing L1) before a's message arrives.
    await killSubscriber(plain, namespace, b);
    await waitFor(() => b.coherent() && b.stats().l1Flushes >= 1, 5000, 'b flushed and coherent again');
    db.set('p', 3, 'v3'); // the truth moved on (a later write, whose versions may still wait for replay)
    const applied = new Promise<readonly Applied[]>((resolve) => b.events.once('applied', (x) => resolve(x.updates)));

    proxy.resume();
    expect(await within(applied, 5000, "a's late message")).toEqual([{ kind: KIND, id: 'p', version: 2, value: undefined }]);
    expect(b.peek(KIND, 'p')).toBeUndefined();
    // Neither L1 nor the L2 value (stamped before b regained trust) answers: the source does.
    expect(await readOne(b, 'p', db.loader)).toEqual([3, 'v3', 'load']);
    // The floor keeps an older version out.
    const lagging = new Source();
    lagging.set('p', 1, 'v1');
    await readOne(b, 'p', lagging.loader, { fresh: true });
    expect(peekOne(b, 'p')).toEqual([3, 'v3']);
    await write;
  });

  it('CLIENT KILL TYPE pubsub: the bus comes back, L1 is flushed, nothing stale is served, and writes are acknowledged again', async () => {
    const { a, b, plain } = await pair('none');
    const db = new Source();
    db.set('p', 1, 'old');
    db.set('q', 1, 'kept?');
    await b.getMany(KIND, ['p', 'q'], db.loader);
    const states: string[] = [];
    b.events.on('busState', (s) => states.push(s.state));
    const flushesBefore = b.stats().l1Flushes;

    expect(Number(await plain.client('KILL', 'TYPE', 'pubsub'))).toBe(2); // a's and b's
    const report = await db.write(a, 'p', 2, 'new'); // b may or may not be subscribed again by then
    expect(report.degraded).toBe(false);
    const seen = peekOne(b, 'p');
    expect(seen === undefined || seen[0] === 2).toBe(true);
    expect((await readOne(b, 'p', db.loader))?.slice(0, 2)).toEqual([2, 'new']);

    await waitFor(() => a.coherent() && b.coherent(), 5000, 'both coherent again');
    expect(states).toEqual(['down', 'up']);
    expect(b.stats().l1Flushes).toBeGreaterThan(flushesBefore);
    expect(b.peek(KIND, 'q')).toBeUndefined(); // flushed, although nobody wrote it
    expect(await db.write(a, 'p', 3, 'newer')).toMatchObject({ acks: 1, waitedForLeaseMs: 0 });
    expect(peekOne(b, 'p')).toEqual([3, 'newer']);
  });
});
