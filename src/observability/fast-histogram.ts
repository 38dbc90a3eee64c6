import type { Metric, Registry } from 'prom-client';

/** One exposed sample, in the shape prom-client's registry formats. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** One label set's buckets: observe() is a short scan and three additions, nothing else. */
export class HistogramChild {
  /** counts[i]: observations <= buckets[i] and > buckets[i - 1]; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length + 1);
  }

  observe(value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for the request path. Hand-written because prom-client's Histogram validates
 * and hashes the label set on every observe(), even through labels(): the largest gateway-only cost of
 * the cached list's hit path in a CPU profile beside the bare route. Here a child is made once per
 * label set (bounded: method × route pattern × status)
 * and observes with no lookup. It is registered in a prom-client Registry like any metric: the
 * registry formats what get() returns, in prom-client's own shape, so the exposition is identical.
 */
export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children = new Map<string, { labels: Record<L, string>; child: HistogramChild }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) throw new TypeError('buckets must increase');
    registry.registerMetric(this as unknown as Metric);
  }

  /** The child of this label set (made on first use). Keep it: observe() on it costs nothing more. */
  child(labels: Record<L, string>): HistogramChild {
    const key = JSON.stringify(labels);
    let c = this.children.get(key);
    if (c === undefined) this.children.set(key, (c = { labels: { ...labels }, child: new HistogramChild(this.buckets) }));
    return c.child;
  }

  /** What prom-client's registry formats (the shape of its own Histogram.get()). */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const { labels, child } of this.children.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += child.counts[i]!;
        values.push({ labels: { le: i < this.buckets.length ? this.buckets[i]! : '+Inf', ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const { child } of this.children.values()) {
      child.counts.fill(0);
      child.sum = 0;
      child.count = 0;
    }
  }
}
