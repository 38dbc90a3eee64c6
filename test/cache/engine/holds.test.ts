import { describe, expect, it } from 'vitest';
import type { CacheEngineOptions } from '../../../src/cache/engine/index.js';
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
  const inL2 = async (group: string, field = 'f') => (await fx.plain().hexists(`${namespace}:{${group}}:d`, field)) === 1;
  const holdsInRedis = async (group: string) => fx.plain().zcard(`${namespace}:{${group}}:h`);
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
    expect((await fx.plain().hget(`${namespace}:{g}:d`, 'f')) ?? '').not.toContain('read before the commit');
  });

  it('overlapping writes: the first release leaves the group held until the second ends', async () => {
    const { a, b, inL2, holdsInRedis } = await pair();
    const h1 = a.hold(['g']);
    const h2 = b.hold(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 2, 5000, 'both holds placed');
    await h1.commit(['g']);
    await waitFor(async () => (await holdsInRedis('g')) === 1, 5000, 'first release');
    // Still held by the second write, locally on both instances and in Redis: nothing is kept.
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

  it('memory only: a load under the hold is served, not stored; after commit() loads are stored', async () => {
    const e = engines.make({ namespace: uniqueNamespace() });
    const hold = e.hold(['g']);
    await e.get('g', 'f', async () => val('before the commit'));
    expect(e.peek('g', 'f')).toBeUndefined();
    await hold.commit(['g']);
    await e.get('g', 'f', async () => val('after'));
    expect(text(e.peek('g', 'f')?.value)).toBe('after');
  });
});
