import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { HttpContext } from '../context.js';
import { userId } from '../plugins/auth.js';
import { AUTH_ERRORS, errors, ok } from '../schemas/common.js';
import { ProfilePatch, UserLookupParams } from '../schemas/users.js';

/** The caller and other users; registered in the authenticated scope (app.ts). */
export function userRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get(
    '/api/v1/auth/me',
    { schema: { operationId: 'getMe', tags: ['auth'], summary: 'The caller', response: { 200: ok(Type.Ref('User')), ...errors(401) } } },
    async (req) => ({ success: true, data: await ctx.users.get(userId(req)) }),
  );

  app.patch<{ Body: { displayName?: string; avatar?: string | null } }>(
    '/api/v1/users/me',
    {
      schema: {
        operationId: 'updateMe',
        tags: ['users'],
        summary: 'Update the caller’s profile (co-members’ lists show it from the next request on)',
        body: ProfilePatch,
        response: { 200: ok(Type.Ref('User')), ...errors(...AUTH_ERRORS) },
      },
    },
    async (req) => ({ success: true, data: await ctx.users.updateProfile(userId(req), req.body) }),
  );

  app.get<{ Params: { idOrUsername: string } }>(
    '/api/v1/users/:idOrUsername',
    {
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'A user by id or username (`me`: the caller)',
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
