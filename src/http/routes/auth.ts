import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { authHook, userId } from '../plugins/auth.js';
import { errors, ok } from '../schemas/common.js';
import { AuthResult, LoginBody, RegisterBody } from '../schemas/users.js';
import { Type } from 'typebox';

export function authRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const auth = authHook(ctx.tokens);

  app.post<{ Body: { username: string; password: string; displayName?: string } }>(
    '/api/v1/auth/register',
    {
      schema: { tags: ['auth'], summary: 'Create an account', body: RegisterBody, response: { 201: ok(AuthResult), ...errors(400, 409, 413, 429) } },
    },
    async (req, reply) => {
      const data = await ctx.users.register(req.body);
      void reply.status(201);
      return { success: true, data };
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    { schema: { tags: ['auth'], summary: 'Get a token', body: LoginBody, response: { 200: ok(AuthResult), ...errors(400, 401, 429) } } },
    async (req) => ({ success: true, data: await ctx.users.login(req.body) }),
  );

  app.get(
    '/api/v1/auth/me',
    {
      onRequest: auth,
      schema: { tags: ['auth'], summary: 'The caller', security: [{ bearer: [] }], response: { 200: ok(Type.Ref('User')), ...errors(401) } },
    },
    async (req) => ({ success: true, data: await ctx.users.get(userId(req)) }),
  );
}
