import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';
import { errors, ok } from '../schemas/common.js';
import { AuthResult, LoginBody, RegisterBody } from '../schemas/users.js';

/** Registered in the public scope (app.ts): these give the token the other routes need. */
export function authRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.post<{ Body: { username: string; password: string; displayName?: string } }>(
    '/api/v1/auth/register',
    {
      schema: { operationId: 'register', tags: ['auth'], summary: 'Create an account', body: RegisterBody, response: { 201: ok(AuthResult), ...errors(400, 409, 413, 429) } },
    },
    async (req, reply) => {
      const data = await ctx.users.register(req.body);
      void reply.status(201);
      return { success: true, data };
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    { schema: { operationId: 'login', tags: ['auth'], summary: 'Get a token', body: LoginBody, response: { 200: ok(AuthResult), ...errors(400, 401, 429) } } },
    async (req) => ({ success: true, data: await ctx.users.login(req.body) }),
  );
}
