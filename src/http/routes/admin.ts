import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { HttpContext } from '../context.js';
import { AUTH_ERRORS, errors, ok } from '../schemas/common.js';

/** Registered in the admin scope (app.ts): the token and the admin role are checked there. */
export function adminRoutes(app: FastifyInstance, ctx: HttpContext): void {

  app.get(
    '/api/v1/admin/cache/stats',
    {
      schema: {
        operationId: 'getCacheStats',
        tags: ['admin'],
        summary: 'Conversation-list cache statistics (admins)',
        response: { 200: ok(Type.Object({ name: Type.String() }, { additionalProperties: true })), ...errors(...AUTH_ERRORS, 403) },
      },
    },
    async () => ({ success: true, data: ctx.cacheAdmin?.stats() ?? { name: 'conversations-list', enabled: false } }),
  );

  app.delete(
    '/api/v1/admin/cache',
    {
      schema: {
        operationId: 'clearCache',
        tags: ['admin'],
        summary: 'Clear the conversation-list cache on every instance, L1 and L2 (admins)',
        response: { 200: ok(Type.Object({ cleared: Type.Literal(true) })), ...errors(...AUTH_ERRORS, 403) },
      },
    },
    async () => {
      await ctx.cacheAdmin?.clear();
      return { success: true, data: { cleared: true as const } };
    },
  );
}
