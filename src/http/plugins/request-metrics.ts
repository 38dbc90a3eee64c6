import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import type { HistogramChild } from '../../observability/fast-histogram.js';
import type { Metrics } from '../../observability/metrics.js';

/**
 * Request duration by route pattern and status, from Fastify's own clock; labelled by route pattern
 * (bounded), never by URL or user. Installed before any route: each route gets a hook of its own that
 * already knows its pattern, because the generic way costs the hit path more than the cache lookup —
 * `req.routeOptions` builds a fresh object on every access, and `observe(labels)` hashes the labels
 * on every call. Here a histogram child per (method, status) is made once and reused (see
 * fast-histogram.ts).
 */
export function installRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRoute', (route) => {
    const children = new Map<string, HistogramChild>();
    const observe: onResponseHookHandler = (req, reply, done) => {
      const key = req.method + reply.statusCode;
      let child = children.get(key);
      if (child === undefined) {
        child = metrics.httpDuration.child({ method: req.method, route: route.url, status_code: String(reply.statusCode) });
        children.set(key, child);
      }
      child.observe(reply.elapsedTime / 1000);
      done();
    };
    const existing = route.onResponse;
    route.onResponse = existing === undefined ? [observe] : [...(Array.isArray(existing) ? existing : [existing]), observe];
  });
}
