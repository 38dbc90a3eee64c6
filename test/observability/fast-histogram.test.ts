import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../../src/observability/fast-histogram.js';

describe('FastHistogram', () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'req_seconds', help: 'h', labelNames: ['method', 'route'] as const, buckets, registers: [theirs] });
    const fast = new FastHistogram<'method' | 'route'>('req_seconds', 'h', buckets, ours);
    const samples: Array<[string, string, number]> = [
      ['GET', '/a', 0.0005],
      ['GET', '/a', 0.001], // on a bound: counted in that bucket (le is inclusive)
      ['GET', '/a', 0.05],
      ['POST', '/b', 3], // above every bound: +Inf only
      ['GET', '/a', 0.2],
    ];
    for (const [method, route, v] of samples) {
      reference.labels({ method, route }).observe(v);
      fast.child({ method, route }).observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('req_seconds_bucket{le="0.001",method="GET",route="/a"} 2');

    ours.resetMetrics();
    theirs.resetMetrics();
    fast.child({ method: 'GET', route: '/a' }).observe(0.02);
    reference.labels({ method: 'GET', route: '/a' }).observe(0.02);
    expect(await ours.metrics()).toContain('req_seconds_count{method="GET",route="/a"} 1');
  });

  it('refuses buckets that do not increase', () => {
    expect(() => new FastHistogram('x', 'h', [1, 1], new Registry())).toThrow(TypeError);
  });
});
