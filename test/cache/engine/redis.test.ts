import { describe, expect, it } from 'vitest';
import type { CacheEngineOptions } from '../../../src/cache/engine/index.js';
import { encodeEntry } from '../../../src/cache/engine/codec.js';
import { COORDINATION } from '../../../src/cache/engine/lua.js';
import { countingLoader, useRedisEngines, heldLoader, memoryLogger, sleep, text, uniqueNamespace, val, waitFor, warm } from './helpers.js';

const fx = useRedisEngines();
const { engines, pair } = fx;

describe('cache engine with Redis, two instances', () => {
  it('L2 serves a value loaded by the other instance, then L1 serves it', async () => {
    const { a, b, namespace } = await pair();
    const la = countingLoader(() => 'v1');
    expect((await a.get('g', 'f', la.load)).source).toBe('load');
    await waitFor(async () => (await fx.plain().hexists(`${namespace}:{g}:e`, 'f')) === 1, 5000, 'L2 fill');
    const lb = countingLoader(() => 'never');
    const r = await b.get('g', 'f', lb.load);
    expect(r.source).toBe('l2');
    expect(text(r.entry.value)).toBe('v1');
    expect(r.entry.meta).toBe('etag-v1');
    expect(lb.calls()).toBe(0);
    // Kept in L1 once b is registered for g (registered in the background of the L2 hit).
    await waitFor(() => b.peek('g', 'f') !== undefined, 5000, 'L1 after the L2 hit');
    expect((await b.get('g', 'f', lb.load)).source).toBe('l1');
    expect(b.peek('g', 'f')?.value).toBe((await b.get('g', 'f', lb.load)).entry.value);
    expect(b.stats()).toMatchObject({ redis: 'up', bus: 'up', coherent: true, hits: { l2: 1 } });
  });

  it('invalidate() closes the window: right after it resolves the other instance has dropped the value', async () => {
    const { a, b, namespace } = await pair();
    let current = 'old';
    const loader = countingLoader(() => current);
    await a.get('g', 'f', loader.load);
    await b.get('g', 'f', loader.load);
    await waitFor(async () => (await fx.plain().hexists(`${namespace}:{g}:e`, 'f')) === 1, 5000, 'L2 fill');
    await warm(b, 'g', 'f', loader.load);
    expect(text(b.peek('g', 'f')?.value)).toBe('old');

    current = 'new'; // the database write
    const report = await a.invalidate(['g']);
    // No sleep here: the contract is about the moment invalidate() resolves.
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(report).toMatchObject({ groups: 1, acks: 1, degraded: false });
    expect(report.waitedForLeaseMs).toBe(0);
    const rb = await b.get('g', 'f', loader.load);
    expect(rb.source).toBe('load');
    expect(text(rb.entry.value)).toBe('new');
    expect(b.stats().remoteInvalidations).toBe(1);
    expect(await fx.plain().hget(`${namespace}:{g}:m`, 'g')).toBe('1');
  });

  it('an invalidation drops every field of the group in L2 and L1 of both instances', async () => {
    const { a, b, namespace } = await pair();
    for (const f of ['q1', 'q2', 'q3']) await a.get('u', f, async () => val(`old-${f}`));
    await waitFor(async () => (await fx.plain().hlen(`${namespace}:{u}:e`)) === 3, 5000, 'L2 fills');
    for (const f of ['q1', 'q2', 'q3']) expect((await b.get('u', f, async () => val('x'))).source).toBe('l2');
    await b.invalidate(['u']);
    expect(await fx.plain().exists(`${namespace}:{u}:e`)).toBe(0);
    for (const f of ['q1', 'q2', 'q3']) {
      expect(a.peek('u', f)).toBeUndefined();
      expect(b.peek('u', f)).toBeUndefined();
    }
  });

  it('stale fill across instances: a load held while another instance invalidates is never stored', async () => {
    const { a, b, namespace } = await pair();
    // a holds nothing of g yet: its load in flight registered it for g, so b tells it and waits.
    const held = heldLoader('old');
    const pending = a.get('g', 'f', held.load);
    await held.started;
    const report = await b.invalidate(['g']);
    expect(report.acks).toBe(1);
    held.release();
    expect(text((await pending).entry.value)).toBe('old');
    await sleep(50); // let a background fill (if any, wrongly) land
    expect(a.peek('g', 'f')).toBeUndefined();
    expect(await fx.plain().hget(`${namespace}:{g}:e`, 'f')).toBeNull();
    expect(a.stats().staleFillsRefused).toBe(1);
    const rb = await b.get('g', 'f', async () => val('new'));
    expect(rb.source).toBe('load');
    expect(text(rb.entry.value)).toBe('new');
  });

  it('the L2 compare-and-set alone refuses a fill whose generation moved (bus message lost)', async () => {
    const { logger } = memoryLogger();
    const namespace = uniqueNamespace();
    const a = engines.make({ namespace, redisUrl: fx.redis().url, logger });
    await a.ready();
    const refused: string[] = [];
    a.events.on('staleFillRefused', (e) => refused.push(e.reason));
    const held = heldLoader('old');
    const pending = a.get('g', 'f', held.load);
    await held.started;
    // Another writer's INCR whose bus message never arrived: only the Lua CAS can catch it.
    await fx.plain().hincrby(`${namespace}:{g}:m`, 'g', 1);
    held.release();
    await pending;
    await waitFor(() => refused.length > 0, 5000, 'refusal');
    expect(refused).toEqual(['cas']);
    expect(await fx.plain().hget(`${namespace}:{g}:e`, 'f')).toBeNull();
    expect(a.peek('g', 'f')).toBeUndefined();
  });

  it('a corrupt or foreign L2 value is a miss (logged once), then reloaded and overwritten', async () => {
    const { logger, records } = memoryLogger();
    const namespace = uniqueNamespace();
    const a = engines.make({ namespace, redisUrl: fx.redis().url, logger });
    await a.ready();
    await fx.plain().hset(`${namespace}:{g}:e`, 'f', 'garbage, not an entry');
    await fx.plain().hset(`${namespace}:{g}:e`, 'f2', Buffer.from([0x43, 0x47, 9, 0, 1, 2, 3])); // wrong version
    const l = countingLoader(() => 'good');
    const r = await a.get('g', 'f', l.load);
    expect(r.source).toBe('load');
    expect(text(r.entry.value)).toBe('good');
    expect((await a.get('g', 'f2', l.load)).source).toBe('load');
    expect(a.stats().corruptEntries).toBe(2);
    expect(records.filter((x) => x.level === 40 && /could not be decoded/.test(x.msg))).toHaveLength(1);
    await waitFor(async () => (await fx.plain().hgetBuffer(`${namespace}:{g}:e`, 'f'))?.[0] === 0x43, 5000, 'overwrite');
    const b = engines.make({ namespace, redisUrl: fx.redis().url });
    await b.ready();
    expect((await b.get('g', 'f', l.load)).source).toBe('l2');
  });

  it('an L2 entry past its TTL is a miss even while its hash lives on', async () => {
    const namespace = uniqueNamespace();
    const a = engines.make({ namespace, redisUrl: fx.redis().url, ttlMs: 5000 });
    await a.ready();
    const now = Number((await fx.plain().time())[0]) * 1000;
    await fx.plain().hset(`${namespace}:{g}:e`, 'old', encodeEntry(0, 0, now - 6000, 'm', Buffer.from('x')));
    await fx.plain().hset(`${namespace}:{g}:e`, 'ok', encodeEntry(0, 0, now - 1000, 'm', Buffer.from('x')));
    expect((await a.get('g', 'old', async () => val('y'))).source).toBe('load');
    const ok = await a.get('g', 'ok', async () => val('y'));
    expect(ok.source).toBe('l2');
    expect(ok.entry.meta).toBe('m');
    expect(ok.entry.storedAt).toBe(now - 1000);
  });

  it('clear() reaches the other instance, sweeps L2 with SCAN and voids fills in flight', async () => {
    const { a, b, namespace } = await pair();
    await a.get('g1', 'f', async () => val('1'));
    await a.get('g2', 'f', async () => val('2'));
    await a.invalidate(['g3']); // leaves a gen key
    await waitFor(async () => (await fx.plain().hlen(`${namespace}:{g2}:e`)) === 1, 5000, 'L2 fill');
    await warm(b, 'g1', 'f', async () => val('x'));
    const held = heldLoader('old');
    const pending = b.get('g4', 'f', held.load);
    await held.started;

    await a.clear();
    expect(b.peek('g1', 'f')).toBeUndefined();
    expect(a.peek('g1', 'f')).toBeUndefined();
    const keys = (await fx.plain().keys(`${namespace}:*`)).sort(); // KEYS is fine in a test on a private server
    // Entries swept; state hashes (gens, holds, registrations) stay (small, with TTLs; see RedisL2.sweep).
    expect(keys.filter((k) => k.endsWith(':e'))).toEqual([]);
    expect(keys).toEqual(expect.arrayContaining([`${namespace}:epoch`, `${namespace}:${COORDINATION}:registry`, `${namespace}:{g3}:m`]));

    held.release();
    await pending;
    await sleep(50);
    expect(await fx.plain().exists(`${namespace}:{g4}:e`)).toBe(0);
    expect(b.peek('g4', 'f')).toBeUndefined();
    expect((await b.get('g1', 'f', async () => val('new'))).source).toBe('load');
  });

  it("'fast' mode does not wait for acks (weaker, documented)", async () => {
    const { a, b } = await pair({ mode: 'fast' });
    await b.get('g', 'f', async () => val('old'));
    const report = await a.invalidate(['g']);
    expect(report.acks).toBe(0);
    expect(a.stats().mode).toBe('fast');
    await waitFor(() => b.peek('g', 'f') === undefined, 5000, 'bus delivery');
  });

  it('a closed instance leaves the registry at once, so writers do not wait for it', async () => {
    const { a, b, namespace } = await pair();
    await warm(b, 'g', 'f', async () => val('x')); // b is registered for g
    expect(await fx.plain().zcard(`${namespace}:${COORDINATION}:registry`)).toBe(2);
    await b.close();
    expect(await fx.plain().zcard(`${namespace}:${COORDINATION}:registry`)).toBe(1);
    const report = await a.invalidate(['g']);
    expect(report.acks).toBe(0);
    expect(report.waitedForLeaseMs).toBe(0);
    expect(report.ms).toBeLessThan(100);
  });

  it('an instance is waited for while registered in the group, and not once its registration has expired', async () => {
    const { a, b, namespace } = await pair();
    await warm(b, 'g', 'f', async () => val('x'));
    const id = (b as unknown as { instanceId: string }).instanceId;
    // Registered until Redis now + interestTtl (genTtl 60 s + ttl 60 s here), by b's estimate of Redis time.
    const redisNow = Number((await fx.plain().time())[0]) * 1000;
    const expiry = Number(await fx.plain().hget(`${namespace}:{g}:m`, `i:${id}`));
    expect(expiry).toBeGreaterThan(redisNow + 115_000);
    expect(expiry).toBeLessThan(redisNow + 125_000);
    expect((await a.invalidate(['g'])).acks).toBe(1);
    expect((await a.invalidate(['g'])).acks).toBe(1); // still registered: a second write waits for it too
    const now = Number((await fx.plain().time())[0]) * 1000;
    await fx.plain().hset(`${namespace}:{g}:m`, `i:${id}`, now - 1); // as if its interestTtl had passed
    expect((await a.invalidate(['g'])).acks).toBe(0);
  });

  it("a group's state hash only ever gains lifetime: a write does not cut a registration short", async () => {
    const { a, b, namespace } = await pair();
    const state = `${namespace}:{g}:m`;
    await a.invalidate(['g']); // nobody registered: the new gen is kept genTtl (60 s here)
    expect(await fx.plain().pttl(state)).toBeGreaterThan(55_000);
    expect(await fx.plain().pttl(state)).toBeLessThan(100_000);
    await warm(b, 'g', 'f', async () => val('x')); // b registers until now + interestTtl (120 s here)
    expect(await fx.plain().pttl(state)).toBeGreaterThan(115_000);
    await a.invalidate(['g']); // genTtl is not a reason to shorten it
    await a.hold(['g']).commit(['g']);
    expect(await fx.plain().pttl(state)).toBeGreaterThan(115_000);
  });

  it('a hold left by a writer that died does not outlive its expiry, and the next load removes it', async () => {
    const { a, namespace } = await pair();
    const state = `${namespace}:{g}:m`;
    const now = Number((await fx.plain().time())[0]) * 1000;
    await fx.plain().hset(state, 'h:dead-writer:1', now - 1, 'h:dead-writer:2', now + 60_000);
    await a.get('g', 'f', async () => val('read under a live hold'));
    await sleep(100);
    expect(await fx.plain().hexists(`${namespace}:{g}:e`, 'f')).toBe(0); // held: served, not stored
    expect(await fx.plain().hexists(state, 'h:dead-writer:1')).toBe(0);
    await fx.plain().hdel(state, 'h:dead-writer:2');
    await a.get('g', 'f', async () => val('v'));
    await waitFor(async () => (await fx.plain().hexists(`${namespace}:{g}:e`, 'f')) === 1, 5000, 'L2 fill once no hold is live');
  });

  it('registrations of instances long gone are pruned once the state hash has grown past a few dozen fields', async () => {
    const { b, namespace } = await pair();
    const state = `${namespace}:{g}:m`;
    const now = Number((await fx.plain().time())[0]) * 1000;
    const gone = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`i:gone-${i}`, String(now - 1)]));
    await fx.plain().hset(state, { ...gone, 'i:alive': String(now + 60_000), g: '3' });
    await b.get('g', 'f', async () => val('x')); // b's first read registers it
    const id = (b as unknown as { instanceId: string }).instanceId;
    expect((await fx.plain().hkeys(state)).sort()).toEqual(['g', 'i:alive', `i:${id}`, 'x'].sort());
  });

  it("a first read does not use an L2 value stored under an older gen than its registration saw", async () => {
    const { a, b, namespace } = await pair();
    await a.get('g', 'f', async () => val('old'));
    await waitFor(async () => (await fx.plain().hexists(`${namespace}:{g}:e`, 'f')) === 1, 5000, 'L2 fill');
    // As if a write had bumped the gen between b's read and its registration (the order a script
    // re-sent after NOSCRIPT can take), the data not yet dropped.
    await fx.plain().hincrby(`${namespace}:{g}:m`, 'g', 1);
    const r = await b.get('g', 'f', async () => val('new'));
    expect(r.source).toBe('load');
    expect(text(r.entry.value)).toBe('new');
  });

  it('instances of previous coordination protocols (registry without a version, v2, v3) are not waited for', async () => {
    const { a, b, namespace } = await pair();
    await warm(b, 'g', 'f', async () => val('x'));
    // Such instances would never acknowledge: they listen on the old shared channel, or on their own version's inboxes.
    const now = Number((await fx.plain().time())[0]) * 1000;
    await fx.plain().zadd(`${namespace}:registry`, now + 60_000, 'an-instance-of-the-unversioned-release');
    await fx.plain().zadd(`${namespace}:v2:registry`, now + 60_000, 'an-instance-of-the-v2-release');
    await fx.plain().zadd(`${namespace}:v3:registry`, now + 60_000, 'an-instance-of-the-v3-release');
    await fx.plain().zadd(`${namespace}:{g}:i`, now + 60_000, 'an-instance-of-the-v3-release');
    const report = await a.invalidate(['g']);
    expect(report).toMatchObject({ acks: 1, waitedForLeaseMs: 0, degraded: false });
    expect(report.ms).toBeLessThan(500);
  });
});
