import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';

/**
 * Requests per minute per user (by token subject; per IP before login). Runs after the route's
 * authentication hook (onRequest), which has identified the caller, and before the body is read
 * (preParsing): requests that would fail body parsing or validation (malformed JSON, bodies over
 * 64 KiB, invalid fields) are counted and limited too, since each still costs a body read and a parse.
 */
export async function installRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  if (perMinute <= 0) return;
  await app.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    hook: 'preParsing',
    keyGenerator: (req) => (req.auth ? `u:${req.auth.sub}` : `ip:${req.ip}`),
    errorResponseBuilder: (_req, ctx) => new AppError('RATE_LIMITED', `rate limit of ${ctx.max} requests per minute exceeded, retry in ${Math.ceil(ctx.ttl / 1000)} s`),
  });
}
