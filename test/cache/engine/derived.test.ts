import { describe, expect, it } from 'vitest';
import type { DerivedCache, Engine } from '../../../src/cache/engine/index.js';
import { freePort } from '../../helpers/net.js';
import { Engines, KIND, Source, readOne } from './helpers.js';

const engines = new Engines();

const piece = (id: string): string => `${KIND}:${id}`;

function pages(e: Engine): DerivedCache<string> {
  return e.derived<string>('pages', { maxBytes: 1 << 16, sizeOf: (v) => v.length });
}

/** Derives owner's page from the pieces `ids` as the engine serves them, and tries to store it. */
async function derive(e: Engine, d: DerivedCache<string>, db: Source, owner: string, ids: string[], variant = 'v'): Promise<{ value: string; stored: boolean }> {
  const token = d.begin(owner, ids.map(piece));
  const found = await e.getMany<string>(KIND, ids, db.loader);
  const value = ids.map((id) => `${id}@${found.get(id)?.entry.version}`).join(',');
  return { value, stored: d.set(token, variant, value) };
}

describe('derived values, one instance', () => {
  it('a stored value is served until one of its pieces changes here', async () => {
    const e = engines.make();
    const d = pages(e);
    const db = new Source();
    db.set('x', 1, 'X');
    db.set('y', 1, 'Y');
    db.set('z', 1, 'Z');
    expect(await derive(e, d, db, 'u1', ['x', 'y'])).toEqual({ value: 'x@1,y@1', stored: true });
    expect(await derive(e, d, db, 'u2', ['z'])).toEqual({ value: 'z@1', stored: true });
    expect(d.peek('u1', 'v')).toBe('x@1,y@1');
    expect(d.size).toBe(2);
    await db.write(e, 'y', 2, 'Y2');
    expect(d.peek('u1', 'v')).toBeUndefined();
    expect(d.peek('u2', 'v')).toBe('z@1'); // depends on nothing that changed
    expect(await derive(e, d, db, 'u1', ['x', 'y'])).toEqual({ value: 'x@1,y@2', stored: true });
    expect(d.peek('u1', 'v')).toBe('x@1,y@2');
  });

  it('a value whose derivation started before a change of its pieces is not stored', async () => {
    const e = engines.make();
    const d = pages(e);
    const db = new Source();
    db.set('x', 1, 'X');
    const token = d.begin('u', [piece('x')]);
    const found = await e.getMany<string>(KIND, ['x'], db.loader);
    await db.write(e, 'x', 2, 'X2'); // while the page is being composed from version 1
    expect(d.set(token, 'v', `x@${found.get('x')?.entry.version}`)).toBe(false);
    expect(d.peek('u', 'v')).toBeUndefined();
    expect(await derive(e, d, db, 'u', ['x'])).toEqual({ value: 'x@2', stored: true });
  });

  it('dependOn adds pieces learnt while deriving; every variant of the owner goes with a change', async () => {
    const e = engines.make();
    const d = pages(e);
    const db = new Source();
    db.set('me', 1, 'me');
    db.set('c1', 1, 'c1');
    db.set('c2', 1, 'c2');
    const token = d.begin('u', [piece('me')]);
    await e.getMany<string>(KIND, ['me'], db.loader);
    d.dependOn(token, [piece('c1')]);
    await e.getMany<string>(KIND, ['c1'], db.loader);
    expect(d.set(token, 'page1', 'A')).toBe(true);
    expect(d.set(token, 'page2', 'B')).toBe(true);
    await db.write(e, 'c2', 2, 'c2 changed'); // not a dependency
    expect([d.peek('u', 'page1'), d.peek('u', 'page2')]).toEqual(['A', 'B']);
    await db.write(e, 'c1', 2, 'c1 changed');
    expect([d.peek('u', 'page1'), d.peek('u', 'page2')]).toEqual([undefined, undefined]);
    expect(d.size).toBe(0);
  });

  it('drop(owner) drops that owner only; a derivation begun before the drop is not stored', async () => {
    const e = engines.make();
    const d = pages(e);
    const db = new Source();
    db.set('x', 1, 'X');
    await derive(e, d, db, 'u1', ['x']);
    await derive(e, d, db, 'u2', ['x']);
    const token = d.begin('u1', [piece('x')]);
    d.drop('u1');
    expect(d.peek('u1', 'v')).toBeUndefined();
    expect(d.peek('u2', 'v')).toBe('x@1');
    expect(d.set(token, 'v', 'stale')).toBe(false);
  });

  it('clear() drops every derived value, and a derivation begun before it is not stored', async () => {
    const e = engines.make();
    const d = pages(e);
    const db = new Source();
    db.set('x', 1, 'X');
    await derive(e, d, db, 'u', ['x']);
    const token = d.begin('u', [piece('x')]);
    await e.clear();
    expect(d.peek('u', 'v')).toBeUndefined();
    expect(d.set(token, 'v', 'from before the clear')).toBe(false);
  });

  it('keeps to its byte budget', async () => {
    const e = engines.make();
    const d = e.derived<string>('small', { maxBytes: 1000, sizeOf: (v) => v.length });
    for (let i = 0; i < 20; i++) d.set(d.begin(`u${i}`), 'v', 'x'.repeat(100));
    expect(d.bytes).toBeLessThanOrEqual(1000);
    expect(d.size).toBeGreaterThan(0);
    expect(d.size).toBeLessThan(20);
    expect(d.peek('u19', 'v')).toBe('x'.repeat(100));
    expect(d.peek('u0', 'v')).toBeUndefined();
  });

  it('not coherent (disabled, or Redis unreachable): peek gives nothing and set stores nothing', async () => {
    const disabled = engines.make({ ttlMs: 0 });
    const unreachable = engines.make({ redisUrl: `redis://127.0.0.1:${await freePort()}`, redisTimeoutMs: 50, leaseMs: 300 });
    for (const e of [disabled, unreachable]) {
      expect(e.coherent()).toBe(false);
      const d = pages(e);
      expect(d.set(d.begin('u', [piece('x')]), 'v', 'value')).toBe(false);
      expect(d.peek('u', 'v')).toBeUndefined();
      expect(d.size).toBe(0);
    }
  });
});

describe('derived values, two instances on one Redis', () => {
  it("another instance's write drops the value here before its publish() resolves; a derivation begun before it is not stored", async () => {
    const { a, b } = await engines.sharedPair();
    const d = pages(b);
    const db = new Source();
    db.set('x', 1, 'X');
    expect(await derive(b, d, db, 'u', ['x'])).toEqual({ value: 'x@1', stored: true });
    const token = d.begin('u', [piece('x')]);
    await readOne(b, 'x', db.loader);
    await db.write(a, 'x', 2, 'X2');
    expect(d.peek('u', 'v')).toBeUndefined();
    expect(d.set(token, 'v', 'x@1')).toBe(false);
    expect(await derive(b, d, db, 'u', ['x'])).toEqual({ value: 'x@2', stored: true });
  });

  it('a write announced by version only (above maxMessageBytes) drops the value too', async () => {
    const { a, b } = await engines.sharedPair({ maxMessageBytes: 4 });
    const d = pages(b);
    const db = new Source();
    db.set('x', 1, 'X');
    await derive(b, d, db, 'u', ['x']);
    await db.write(a, 'x', 2, 'a value longer than four bytes');
    expect(d.peek('u', 'v')).toBeUndefined();
  });

  it('the value is dropped even when this instance already read the new version before the write was announced', async () => {
    // b composes the page from x@1; then b reads x again, fresh, and gets x@2, which a has committed but
    // not yet published; then a's publish announces x@2 (by version only: a large value). The page
    // from x@1 must not outlive that publish.
    const { a, b } = await engines.sharedPair({ maxMessageBytes: 4 });
    const d = pages(b);
    const db = new Source();
    db.set('x', 1, 'X');
    expect(await derive(b, d, db, 'u', ['x'])).toEqual({ value: 'x@1', stored: true });
    db.set('x', 2, 'a value longer than four bytes'); // committed by a
    expect(await readOne(b, 'x', db.loader, { fresh: true })).toEqual([2, 'a value longer than four bytes', 'load']);
    await a.publish([{ kind: KIND, id: 'x', version: 2, value: 'a value longer than four bytes' }]);
    expect(d.peek('u', 'v')).toBeUndefined();
  });

  it('the value is dropped when a write is announced whose version this instance has already passed', async () => {
    // b's page is from x@1; b then reads x@3 (two writes committed, neither announced yet); the
    // announcement of x@2 arrives first. Once that publish resolves, nothing from x@1 may be served.
    const { a, b } = await engines.sharedPair();
    const d = pages(b);
    const db = new Source();
    db.set('x', 1, 'X');
    await derive(b, d, db, 'u', ['x']);
    db.set('x', 3, 'X3');
    await readOne(b, 'x', db.loader, { fresh: true });
    await a.publish([{ kind: KIND, id: 'x', version: 2, value: 'X2' }]);
    expect(d.peek('u', 'v')).toBeUndefined();
  });
});
