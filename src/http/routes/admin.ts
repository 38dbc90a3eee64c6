import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { forbidden } from '../../errors.js';
import type { HttpContext } from '../context.js';
import { authHook } from '../plugins/auth.js';
import { AUTH_ERRORS, errors, ok } from '../schemas/common.js';

const security = [{ bearer: [] }];

export function adminRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const auth = authHook(ctx.tokens);
  const requireAdmin = async (req: FastifyRequest) => {
    if (!req.auth || !ctx.users.isAdmin(req.auth.username)) throw forbidden('admin role required');
  };

  app.get(
    '/api/v1/admin/cache/stats',
    {
      onRequest: auth,
      preHandler: requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Conversation-list cache statistics (admins)',
        security,
        response: { 200: ok(Type.Object({ name: Type.String() }, { additionalProperties: true })), ...errors(...AUTH_ERRORS, 403) },
      },
    },
    async () => ({ success: true, data: ctx.cacheAdmin?.stats() ?? { name: 'conversations-list', enabled: false } }),
  );

  app.delete(
    '/api/v1/admin/cache',
    {
      onRequest: auth,
      preHandler: requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Clear the conversation-list cache on every instance, L1 and L2 (admins)',
        security,
        response: { 200: ok(Type.Object({ cleared: Type.Literal(true) })), ...errors(...AUTH_ERRORS, 403) },
      },
    },
    async () => {
      await ctx.cacheAdmin?.clear();
      return { success: true, data: { cleared: true as const } };
    },
  );
}
