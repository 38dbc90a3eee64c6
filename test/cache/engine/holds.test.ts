import { describe, expect, it } from 'vitest';
import type { CacheEngineOptions } from '../../../src/cache/engine/index.js';
import { COORDINATION } from '../../../src/cache/engine/lua.js';
import { countingLoader, useRedisEngines, heldLoader, sleep, text, uniqueNamespace, val, waitFor, warm } from './helpers.js';

/**
 * Holds: a write's invalidation placed before its commit, so that it overlaps the transaction. What
 * must hold: nothing read while the group is held is ever stored, anywhere; after commit() resolves,
 * every instance serves the committed value; a hold that cannot vouch for the commit (expired, or not
 * covering a group) falls back to a full invalidation.
 */
const fx = useRedisEngines();
const { engines } = fx;

async function pair(extra: Partial<CacheEngineOptions> = {}) {
  const { a, b, namespace } = await fx.pair(extra);
  const inL2 = async (group: string, field = 'f') => (await fx.plain().hexists(`${namespace}:{${group}}:e`, field)) === 1;
  const holdsInRedis = async (group: string) => (await fx.plain().hkeys(`${namespace}:{${group}}:m`)).filter((f) => f.startsWith('h:')).length;
  return { a, b, namespace, inL2, holdsInRedis };
}

describe('cache engine holds (invalidation overlapped with the write)', () => {
  it('nothing read while a write holds the group is stored; after commit() every instance serves the new value', async () => {
    const { a, b, inL2, holdsInRedis } = await pair();
    let db = 'old';
    const loader = countingLoader(() => db);
    await warm(b, 'g', 'f', loader.load);
    await waitFor(() => inL2('g'), 5000, 'L2 fill');

    const hold = a.hold(['g']);
    // The hold reaches b (its L1 entry dropped) and Redis (the data dropped, the hold recorded).
    await waitFor(async () => b.peek('g', 'f') === undefined && (await holdsInRedis('g')) === 1, 5000, 'hold placed');
    expect(await inL2('g')).toBe(false);
    // Reads before the commit see the old row: served, never kept.
    for (const e of [a, b]) expect(text((await e.get('g', 'f', loader.load)).entry.value)).toBe('old');
    await sleep(50);
    expect(a.peek('g', 'f')).toBeUndefined();
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(await inL2('g')).toBe(false);

    db = 'new'; // the commit
    const report = await hold.commit(['g']);
    expect(report).toMatchObject({ degraded: false, acks: 1 });
    // No wait: the contract is about the moment commit() resolves.
    for (const e of [a, b]) expect(text((await e.get('g', 'f', loader.load)).entry.value)).toBe('new');
    // Once the release has landed, loads are stored again.
    await waitFor(async () => (await holdsInRedis('g')) === 0, 5000, 'release');
    await warm(b, 'g', 'f', loader.load);
    expect(text(b.peek('g', 'f')?.value)).toBe('new');
  });

  it('a load that started under the hold is not stored, even when it ends after the release', async () => {
    const { a, b, namespace, holdsInRedis } = await pair();
    const hold = a.hold(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 1, 5000, 'hold placed');
    const held = heldLoader('read before the commit');
    const pending = b.get('g', 'f', held.load);
    await held.started;
    await hold.commit(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 0, 5000, 'release');
    // A getter after commit() must not join the load that read before it.
    const joined = await b.get('g', 'f', async () => val('after'));
    expect(text(joined.entry.value)).toBe('after');
    held.release();
    expect(text((await pending).entry.value)).toBe('read before the commit');
    await sleep(50);
    expect(text(b.peek('g', 'f')?.value)).not.toBe('read before the commit');
    expect((await fx.plain().hget(`${namespace}:{g}:e`, 'f')) ?? '').not.toContain('read before the commit');
  });

  it('overlapping writes: the first release leaves the group held until the second ends', async () => {
    const { a, b, inL2, holdsInRedis } = await pair();
    const h1 = a.hold(['g']);
    const h2 = b.hold(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 2, 5000, 'both holds placed');
    await h1.commit(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 1, 5000, 'first release');
    // Still held by the second write (in Redis, and locally where it was made): nothing is kept.
    for (const e of [a, b]) await e.get('g', 'f', async () => val('between the commits'));
    await sleep(50);
    expect(a.peek('g', 'f')).toBeUndefined();
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(await inL2('g')).toBe(false);
    await h2.commit(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 0, 5000, 'second release');
    await warm(a, 'g', 'f', async () => val('after both'));
    expect(text(a.peek('g', 'f')?.value)).toBe('after both');
  });

  it('a commit after the hold expired falls back to a full invalidation', async () => {
    const { a, b, inL2 } = await pair({ holdMs: 200 });
    let db = 'old';
    const loader = countingLoader(() => db);
    const hold = a.hold(['g']);
    await sleep(300); // a transaction slower than the hold
    // The hold has expired: b loads the old row (the write has not committed) and keeps it.
    await warm(b, 'g', 'f', loader.load);
    await waitFor(() => inL2('g'), 5000, 'L2 fill');
    db = 'new';
    await hold.commit(['g']);
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(await inL2('g')).toBe(false);
    expect(text((await b.get('g', 'f', loader.load)).entry.value)).toBe('new');
  });

  it('a commit that changed a group the hold did not cover invalidates that group fully', async () => {
    const { a, b } = await pair();
    await warm(b, 'other', 'f', async () => val('old'));
    const hold = a.hold(['g']);
    await hold.commit(['g', 'other']);
    expect(b.peek('other', 'f')).toBeUndefined();
  });

  it('abort() lifts the hold: loads are stored again', async () => {
    const { a, b, holdsInRedis } = await pair();
    const hold = a.hold(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 1, 5000, 'hold placed');
    hold.abort();
    await waitFor(async () => (await holdsInRedis('g')) === 0, 5000, 'release');
    await warm(b, 'g', 'f', async () => val('v'));
    await warm(a, 'g', 'f', async () => val('v'));
  });

  it('inRedis(): true once the hold script has run, for the groups it covers, until the hold ends', async () => {
    const { a, holdsInRedis } = await pair();
    const hold = a.hold(['g', 'h']);
    // Synchronously after hold(): the script cannot have run yet.
    expect(hold.inRedis(['g'])).toBe(false);
    await waitFor(() => hold.inRedis(['g', 'h']), 5000, 'hold in Redis');
    expect(await holdsInRedis('g')).toBe(1);
    expect(hold.inRedis(['g', 'other'])).toBe(false);
    await hold.commit(['g', 'h']);
    expect(hold.inRedis(['g'])).toBe(false);
  });

  it('inRedis(): false once less than half of the hold is left (a commit may outlast it)', async () => {
    const { a } = await pair({ holdMs: 400 });
    const hold = a.hold(['g']);
    await waitFor(() => hold.inRedis(['g']), 5000, 'hold in Redis');
    await sleep(250);
    expect(hold.inRedis(['g'])).toBe(false);
    hold.abort();
  });

  it('the hold and the invalidation go only to the live instances registered for the group; acks to the writer; a release publishes nothing', async () => {
    const { a, b, namespace, holdsInRedis } = await pair();
    // A third live instance that holds nothing of g: no message for it, and no wait.
    const c = engines.make({ namespace, redisUrl: fx.redis().url });
    await c.ready();
    await c.get('other', 'f', async () => val('x'));
    const sub = fx.plain().duplicate();
    const seen: Array<{ channel: string; t: string }> = [];
    sub.on('pmessage', (_p: string, channel: string, msg: string) => {
      if (!msg.startsWith('hb:')) seen.push({ channel, t: (JSON.parse(msg) as { t: string }).t });
    });
    try {
      await sub.psubscribe(`${namespace}:${COORDINATION}:inbox:*`);
      await warm(b, 'g', 'f', async () => val('old'));
      expect(await a.invalidate(['g'])).toMatchObject({ acks: 1 });
      // b stays registered for g (until interestTtl): the next write reaches it too.
      const hold = a.hold(['g']);
      expect(await hold.commit(['g'])).toMatchObject({ acks: 1 });
      await waitFor(async () => (await holdsInRedis('g')) === 0, 5000, 'release');
      await sleep(50);
      const inboxOf = (e: typeof a) => `${namespace}:${COORDINATION}:inbox:${(e as unknown as { instanceId: string }).instanceId}`;
      expect(seen).toEqual([
        { channel: inboxOf(b), t: 'inv' },
        { channel: inboxOf(a), t: 'ack' },
        { channel: inboxOf(b), t: 'inv' },
        { channel: inboxOf(a), t: 'ack' },
      ]);
    } finally {
      sub.disconnect();
    }
  });

  it('clear() during a write leaves its hold in place: a load read before the commit is still not stored', async () => {
    const { a, b, inL2, holdsInRedis } = await pair();
    const hold = a.hold(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 1, 5000, 'hold placed');
    await b.clear(); // sweeps L2 data, not holds
    expect(await holdsInRedis('g')).toBe(1);
    await b.get('g', 'f', async () => val('read before the commit'));
    await sleep(50);
    expect(b.peek('g', 'f')).toBeUndefined();
    expect(await inL2('g')).toBe(false);
    await hold.commit(['g']);
  });

  it('a load that could not ask Redis whether its group is held (HEAD failed) is served, not kept', async () => {
    const { a, b, holdsInRedis } = await pair({ redisTimeoutMs: 50 });
    const hold = a.hold(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 1, 5000, 'hold placed');
    // Scripts wait while writes are paused (reads are not): b's HEAD times out, its HGET does not.
    await fx.plain().call('CLIENT', 'PAUSE', '300', 'WRITE');
    const r = await b.get('g', 'f', async () => val('read before the commit'));
    expect(text(r.entry.value)).toBe('read before the commit');
    await sleep(50);
    expect(b.peek('g', 'f')).toBeUndefined();
    await hold.commit(['g']);
    expect(b.peek('g', 'f')).toBeUndefined();
  });

  it('a write over more groups than one script takes (1,201: three scripts) holds, acks and releases them all', async () => {
    const { a, b, inL2, holdsInRedis } = await pair();
    const groups = Array.from({ length: 1201 }, (_, i) => `g${i}`);
    const sample = ['g0', 'g600', 'g1200'];
    for (const g of sample) await warm(b, g, 'f', async () => val('old'));
    const hold = a.hold(groups);
    await waitFor(() => hold.inRedis(groups), 5000, 'every chunk in Redis');
    for (const g of sample) {
      expect(b.peek(g, 'f')).toBeUndefined();
      expect(await inL2(g)).toBe(false);
      expect(await holdsInRedis(g)).toBe(1);
    }
    const report = await hold.commit(groups);
    expect(report).toMatchObject({ groups: 1201, acks: 3, degraded: false });
    await waitFor(async () => (await Promise.all(sample.map(holdsInRedis))).every((n) => n === 0), 5000, 'every chunk released');
  });

  it('memory only: a load under the hold is served, not stored; after commit() loads are stored', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    const hold = e.hold(['g']);
    expect(hold.inRedis(['g'])).toBe(false); // no Redis: an outbox would have to record the debt
    await e.get('g', 'f', async () => val('before the commit'));
    expect(e.peek('g', 'f')).toBeUndefined();
    await hold.commit(['g']);
    await e.get('g', 'f', async () => val('after'));
    expect(text(e.peek('g', 'f')?.value)).toBe('after');
  });
});
