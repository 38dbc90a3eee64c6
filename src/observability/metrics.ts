import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from '../cache/engine/index.js';
import { FastHistogram } from './fast-histogram.js';

/**
 * Prometheus metrics of one gateway, in a registry of its own (several gateways can live in one
 * process, as in the tests). Labels are bounded: route patterns and status codes, never user ids.
 * Cache counters are read from the engine's stats when scraped, so the hit path pays nothing for them.
 */
export interface Metrics {
  registry: Registry;
  httpDuration: FastHistogram<'method' | 'route' | 'status_code'>;
  /** `served`: where list answers came from (X-Cache), counted by the conversation list. */
  attachCache(engine: Engine, served: () => { hits: { l1: number; l2: number }; misses: number }): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpDuration = new FastHistogram<'method' | 'route' | 'status_code'>(
    'http_request_duration_seconds',
    'HTTP request duration by route pattern and status',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registry,
  );

  return {
    registry,
    httpDuration,
    attachCache(engine, served) {
      const stats = () => engine.stats();
      /** A counter that mirrors a monotonic number kept by the engine. */
      const mirror = (name: string, help: string, read: () => number) => {
        let last = 0;
        new Counter({
          name,
          help,
          registers: [registry],
          collect() {
            const now = read();
            if (now > last) this.inc(now - last);
            last = Math.max(last, now);
          },
        });
      };
      new Counter({
        name: 'cache_hits_total',
        help: 'Conversation-list answers from memory (l1) or with pieces from Redis (l2), without a database query',
        labelNames: ['level'] as const,
        registers: [registry],
        collect() {
          const s = served();
          this.reset();
          this.inc({ level: 'l1' }, s.hits.l1);
          this.inc({ level: 'l2' }, s.hits.l2);
        },
      });
      mirror('cache_misses_total', 'Conversation-list answers that read the database', () => served().misses);
      mirror('cache_loads_total', 'Loads of list state from the database', () => stats().loads);
      mirror('cache_pieces_published_total', 'Pieces of list state whose new version this instance installed everywhere', () => stats().published);
      mirror('cache_pieces_received_total', 'Pieces of list state received from other instances', () => stats().received);
      mirror('cache_stale_fills_refused_total', 'Loads not stored because a newer version was already there', () => stats().staleFillsRefused);
      mirror('cache_breaker_opens_total', 'Times the Redis circuit breaker opened', () => stats().breakerOpens);
      mirror('cache_degraded_publishes_total', 'Publications that could not reach Redis (queued for replay)', () => stats().degradedPublishes);
      mirror('cache_l1_flushes_total', 'L1 flushes after coherence was lost and regained', () => stats().l1Flushes);
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(read());
          },
        });
      gauge('cache_l1_entries', 'Entries in the in-process cache', () => stats().entries);
      gauge('cache_l1_bytes', 'Bytes held by the in-process cache', () => stats().bytes);
      gauge('cache_l1_capacity_bytes', 'Byte budget of the in-process cache', () => stats().capacity);
      gauge('cache_redis_up', '1 when Redis answers, 0 when down, -1 when not configured', () => linkValue(stats().redis));
      gauge('cache_bus_up', '1 when the bus is connected, 0 when down, -1 when not configured', () => linkValue(stats().bus));
      gauge('cache_coherent', '1 when this instance may serve from its memory', () => (stats().coherent ? 1 : 0));
      const publishDuration = new Histogram({
        name: 'cache_publish_duration_seconds',
        help: 'Time for a write\'s new list state to be served everywhere (local, L2, other instances)',
        labelNames: ['degraded'] as const,
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      });
      engine.events.on('publish', ({ ms, degraded }) =>
        publishDuration.observe({ degraded: degraded ? 'true' : 'false' }, ms / 1000),
      );
    },
  };
}

function linkValue(state: 'up' | 'down' | 'disabled'): number {
  return state === 'up' ? 1 : state === 'down' ? 0 : -1;
}
