import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { TokenClaims, TokenService } from '../../domain/auth/tokens.js';
import { unauthorized } from '../../errors.js';

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
 * An onRequest hook for authenticated routes. Callback style on purpose: the cached list's hit path
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
