import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  // Timed from Fastify's own clock, labelled by route pattern (bounded), never by URL or user.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url;
    if (route !== undefined) {
      metrics.httpDuration.observe(
        { method: req.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    }
    done();
  });
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
