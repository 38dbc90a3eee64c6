import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { TokenClaims, TokenService } from '../../domain/auth/tokens.js';
import type { UserService } from '../../domain/users.js';
import { forbidden, unauthorized } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: TokenClaims | undefined;
  }
}

export type AuthHook = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

/** Claims of an `Authorization: Bearer` token, or null when there is none or it is invalid. */
export function bearerClaims(tokens: TokenService, header: string | undefined): TokenClaims {
  if (!header || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') throw unauthorized();
  return tokens.verify(header.slice(7).trim());
}

/**
 * The onRequest hook of the authenticated scope. Callback style on purpose: the cached list's hit path
 * runs it on every request and an async hook would add a promise per request.
 */
export function authHook(tokens: TokenService): AuthHook {
  return (req, _reply, done) => {
    try {
      req.auth = bearerClaims(tokens, req.headers.authorization);
      done();
    } catch (err) {
      done(err as Error);
    }
  };
}

export function userId(req: FastifyRequest): string {
  if (!req.auth) throw unauthorized();
  return req.auth.sub;
}

/** What each route's OpenAPI entry says about authentication, set by the scope the route is registered in. */
function documentSecurity(scope: FastifyInstance, security: Array<Record<string, string[]>>): void {
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security };
  });
}

/** Routes registered in `scope` need no token, and their OpenAPI entries say so (`security: []`). */
export function publicScope(scope: FastifyInstance): void {
  documentSecurity(scope, []);
}

/**
 * Every route registered in `scope` (an encapsulated plugin context) needs a bearer token: one
 * onRequest hook for all of them, and their OpenAPI entries say so.
 */
export function authenticatedScope(scope: FastifyInstance, tokens: TokenService): void {
  scope.addHook('onRequest', authHook(tokens));
  documentSecurity(scope, [{ bearer: [] }]);
}

/** Every route registered in `scope` (inside the authenticated one) needs the admin role. */
export function adminScope(scope: FastifyInstance, users: UserService): void {
  scope.addHook('preHandler', async (req) => {
    if (!req.auth || !users.isAdmin(req.auth.username)) throw forbidden('admin role required');
  });
}
