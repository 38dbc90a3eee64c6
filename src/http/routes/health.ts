import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { HttpContext } from '../context.js';
import { errors, PUBLIC_ERRORS } from '../schemas/common.js';

export function healthRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get(
    '/health',
    {
      schema: {
        operationId: 'health',
        tags: ['operations'],
        summary: 'The process is running',
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errors(...PUBLIC_ERRORS) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const Ready = Type.Object({ status: Type.String(), db: Type.String(), redis: Type.String(), cache: Type.String() });
  app.get(
    '/ready',
    {
      schema: {
        operationId: 'ready',
        tags: ['operations'],
        summary: 'The database answers, the warm-up is done or past its bound, and the instance is not shutting down (503 otherwise)',
        response: { 200: Ready, 503: Ready, ...errors(...PUBLIC_ERRORS) },
      },
    },
    async (_req, reply) => {
      const db = await ctx.dbReady();
      const cache = ctx.warmupState();
      const draining = ctx.draining();
      const ready = db && cache === 'done' && !draining;
      void reply.status(ready ? 200 : 503);
      return { status: draining ? 'draining' : ready ? 'ready' : 'unavailable', db: db ? 'up' : 'down', redis: ctx.redisState(), cache };
    },
  );
}
