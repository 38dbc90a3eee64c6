import { afterEach, describe, expect, it } from 'vitest';
import { Engines, countingLoader, heldLoader, memoryLogger, sleep, text, uniqueNamespace, val } from './helpers.js';

const engines = new Engines();
afterEach(() => engines.closeAll());

describe('cache engine, memory only (no redisUrl)', () => {
  it('serves L1 hits with the very Buffer that was stored, via get and peek', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    expect(e.enabled).toBe(true);
    await e.ready(); // immediate: memory only is always coherent
    const l = countingLoader(() => 'v1');
    const first = await e.get('g', 'f', l.load);
    expect(first.source).toBe('load');
    const second = await e.get('g', 'f', l.load);
    expect(second.source).toBe('l1');
    expect(second.entry.value).toBe(first.entry.value); // same object, no copy, no parse
    expect(e.peek('g', 'f')?.value).toBe(first.entry.value);
    expect(e.peek('g', 'other')).toBeUndefined();
    expect(l.calls()).toBe(1);
    const s = e.stats();
    expect(s.redis).toBe('disabled');
    expect(s.bus).toBe('disabled');
    expect(s.coherent).toBe(true);
    expect(s.hits.l1).toBe(2);
    expect(s.loads).toBe(1);
    expect(s.entries).toBe(1);
  });

  it('single flight: 100 concurrent gets of a missing key run the loader once', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    const held = heldLoader('v');
    let calls = 0;
    const load = () => {
      calls++;
      return held.load();
    };
    const all = Array.from({ length: 100 }, () => e.get('g', 'f', load));
    await held.started;
    held.release();
    const results = await Promise.all(all);
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.entry.value)).size).toBe(1);
    expect(e.stats().loads).toBe(1);
  });

  it('a loader error reaches every waiter and is not cached', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(5);
      throw new Error('db down');
    };
    const r = await Promise.allSettled([e.get('g', 'f', failing), e.get('g', 'f', failing)]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    const ok = await e.get('g', 'f', async () => val('fine'));
    expect(ok.source).toBe('load');
    expect(text(ok.entry.value)).toBe('fine');
  });

  it('invalidating a group drops all its fields and no other group', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    await e.get('u1', 'a', async () => val('1a'));
    await e.get('u1', 'b', async () => val('1b'));
    await e.get('u2', 'a', async () => val('2a'));
    const report = await e.invalidate(['u1']);
    expect(report).toMatchObject({ groups: 1, acks: 0, waitedForLeaseMs: 0, degraded: false });
    expect(e.peek('u1', 'a')).toBeUndefined();
    expect(e.peek('u1', 'b')).toBeUndefined();
    expect(text(e.peek('u2', 'a')?.value)).toBe('2a');
    expect(e.stats().entries).toBe(1);
  });

  it('no stale fill: a load held across an invalidation is returned to its caller but never stored', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    const held = heldLoader('old');
    const pending = e.get('g', 'f', held.load);
    await held.started;
    await e.invalidate(['g']);
    held.release();
    const r = await pending;
    expect(text(r.entry.value)).toBe('old'); // the caller asked before the invalidation
    expect(e.peek('g', 'f')).toBeUndefined();
    expect(e.stats().staleFillsRefused).toBe(1);
    const fresh = await e.get('g', 'f', async () => val('new'));
    expect(fresh.source).toBe('load');
    expect(text(fresh.entry.value)).toBe('new');
  });

  it('a get that arrives after an invalidation does not join the load that started before it', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    const held = heldLoader('old');
    const before = e.get('g', 'f', held.load);
    await held.started;
    await e.invalidate(['g']);
    const after = await e.get('g', 'f', async () => val('new'));
    expect(text(after.entry.value)).toBe('new');
    held.release();
    expect(text((await before).entry.value)).toBe('old');
    expect(text(e.peek('g', 'f')?.value)).toBe('new');
  });

  it('evicts by byte budget (values, meta and keys counted)', async () => {
    const budget = 10_000;
    const e = engines.make({ namespace: uniqueNamespace(), l1MaxBytes: budget });
    const big = 'x'.repeat(1000);
    for (let i = 0; i < 30; i++) await e.get('g', `f${i}`, async () => val(big, 'etag'));
    const s = e.stats();
    expect(s.bytes).toBeLessThanOrEqual(budget);
    expect(s.entries).toBeGreaterThan(5);
    expect(s.entries).toBeLessThan(10); // ~1.07 KB per entry
    expect(e.peek('g', 'f0')).toBeUndefined(); // oldest went first
    expect(e.peek('g', 'f29')).toBeDefined();
    // The group index follows evictions: invalidating the group leaves nothing behind.
    await e.invalidate(['g']);
    expect(e.stats().entries).toBe(0);
    expect(e.stats().bytes).toBe(0);
  });

  it('an entry larger than the whole budget is served but not kept', async () => {
    const e = engines.make({ namespace: uniqueNamespace(), l1MaxBytes: 1000 });
    const r = await e.get('g', 'f', async () => val('y'.repeat(5000)));
    expect(r.entry.value.length).toBe(5000);
    expect(e.peek('g', 'f')).toBeUndefined();
    expect(e.stats().entries).toBe(0);
  });

  it('expires entries after ttlMs', async () => {
    const e = engines.make({ namespace: uniqueNamespace(), ttlMs: 80 });
    await e.get('g', 'f', async () => val('v'));
    expect(e.peek('g', 'f')).toBeDefined();
    await sleep(120);
    expect(e.peek('g', 'f')).toBeUndefined();
    expect((await e.get('g', 'f', async () => val('v2'))).source).toBe('load');
  });

  it('ttlMs 0 disables the engine: every get loads, nothing is stored (0 never means "default")', async () => {
    const e = engines.make({ namespace: uniqueNamespace(), ttlMs: 0, redisUrl: 'redis://127.0.0.1:1' });
    expect(e.enabled).toBe(false);
    const l = countingLoader(() => 'v');
    for (let i = 0; i < 3; i++) expect((await e.get('g', 'f', l.load)).source).toBe('load');
    expect(l.calls()).toBe(3);
    expect(e.peek('g', 'f')).toBeUndefined();
    const s = e.stats();
    expect(s.entries).toBe(0);
    expect(s.redis).toBe('disabled');
    expect(s.enabled).toBe(false);
    expect(s.coherent).toBe(false);
    await e.ready();
    expect((await e.invalidate(['g'])).degraded).toBe(false);
  });

  it('clear() drops everything and voids loads in flight', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    await e.get('a', 'f', async () => val('a'));
    const held = heldLoader('old');
    const pending = e.get('b', 'f', held.load);
    await held.started;
    await e.clear();
    held.release();
    await pending;
    expect(e.peek('a', 'f')).toBeUndefined();
    expect(e.peek('b', 'f')).toBeUndefined();
    expect(e.stats().entries).toBe(0);
  });

  it('rejects a group containing NUL (it would collide with another key)', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    await expect(e.get('a\u0000b', 'f', async () => val('x'))).rejects.toThrow(TypeError);
    await expect(e.invalidate(['a\u0000b'])).rejects.toThrow(TypeError);
  });

  it('emits hit events only to listeners, and counts without them', async () => {
    const { logger } = memoryLogger();
    const e = engines.make({ namespace: uniqueNamespace(), logger });
    await e.get('g', 'f', async () => val('v'));
    e.peek('g', 'f');
    const levels: string[] = [];
    e.events.on('hit', (h) => levels.push(h.level));
    e.peek('g', 'f');
    await e.get('g', 'f', async () => val('v'));
    expect(levels).toEqual(['l1', 'l1']);
    expect(e.stats().hits.l1).toBe(3);
  });
});
