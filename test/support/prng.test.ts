import { describe, expect, it } from 'vitest';
import { Prng } from '../../support/prng.js';

const draw = (p: Prng, n: number) => Array.from({ length: n }, () => p.u32());

describe('support/prng: the seeded PRNG of the tests, benchmarks and checkers', () => {
  it('the same seed gives the same sequence; another seed another one', () => {
    expect(draw(new Prng(7), 50)).toEqual(draw(new Prng(7), 50));
    expect(draw(new Prng(7), 50)).not.toEqual(draw(new Prng(8), 50));
  });

  it('a fork draws its own stream: what the child draws does not move the parent', () => {
    const a = new Prng(3);
    const b = new Prng(3);
    const child = a.fork();
    b.fork();
    draw(child, 100);
    expect(draw(a, 20)).toEqual(draw(b, 20));
  });

  it('int(min, max) stays in its closed range and reaches both ends; float() in [0, 1)', () => {
    const p = new Prng(11);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const n = p.int(-2, 3);
      expect(n).toBeGreaterThanOrEqual(-2);
      expect(n).toBeLessThanOrEqual(3);
      seen.add(n);
      const f = p.float();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
    }
    expect([...seen].sort((x, y) => x - y)).toEqual([-2, -1, 0, 1, 2, 3]);
  });

  it('pick refuses an empty list, pickOrUndefined answers undefined for it', () => {
    const p = new Prng(1);
    expect(() => p.pick([])).toThrow(/empty/);
    expect(p.pickOrUndefined([])).toBeUndefined();
    expect(['x']).toContain(p.pickOrUndefined(['x']));
  });

  it('sample gives distinct items of the list, at most k', () => {
    const p = new Prng(5);
    const items = ['a', 'b', 'c', 'd', 'e'];
    for (let k = 0; k <= 7; k++) {
      const s = p.sample(items, k);
      expect(s.length).toBe(Math.min(k, items.length));
      expect(new Set(s).size).toBe(s.length);
      for (const x of s) expect(items).toContain(x);
    }
  });

  it('weighted and weightedKey follow the weights (a weight of 0 is never drawn)', () => {
    const p = new Prng(9);
    const counts = { rare: 0, common: 0, never: 0 };
    for (let i = 0; i < 4000; i++) counts[p.weightedKey({ rare: 1, common: 3, never: 0 })]++;
    expect(counts.never).toBe(0);
    expect(counts.common / counts.rare).toBeGreaterThan(2.4);
    expect(counts.common / counts.rare).toBeLessThan(3.6);
    expect(p.weighted([[0, 'no'], [1, 'yes']] as const)).toBe('yes');
  });
});
