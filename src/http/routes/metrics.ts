import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import { errors, PUBLIC_ERRORS } from '../schemas/common.js';

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errors(...PUBLIC_ERRORS),
        },
      },
    },
    async (_req, reply) => {
      void reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
