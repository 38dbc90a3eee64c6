import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { HttpContext } from '../context.js';
import { authHook, userId } from '../plugins/auth.js';
import { AUTH_ERRORS, errors, ok } from '../schemas/common.js';
import { ProfilePatch, UserLookupParams } from '../schemas/users.js';

export function userRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const auth = authHook(ctx.tokens);

  app.patch<{ Body: { displayName?: string; avatar?: string | null } }>(
    '/api/v1/users/me',
    {
      onRequest: auth,
      schema: {
        tags: ['users'],
        summary: 'Update the caller’s profile (co-members’ lists show it from the next request on)',
        security: [{ bearer: [] }],
        body: ProfilePatch,
        response: { 200: ok(Type.Ref('User')), ...errors(...AUTH_ERRORS) },
      },
    },
    async (req) => ({ success: true, data: await ctx.users.updateProfile(userId(req), req.body) }),
  );

  app.get<{ Params: { idOrUsername: string } }>(
    '/api/v1/users/:idOrUsername',
    {
      onRequest: auth,
      schema: {
        tags: ['users'],
        summary: 'A user by id or username (`me`: the caller)',
        security: [{ bearer: [] }],
        params: UserLookupParams,
        response: { 200: ok(Type.Ref('User')), ...errors(...AUTH_ERRORS, 404) },
      },
    },
    async (req) => {
      const key = req.params.idOrUsername;
      const user = key === 'me' ? await ctx.users.get(userId(req)) : await ctx.users.lookup(key);
      return { success: true, data: user };
    },
  );
}
