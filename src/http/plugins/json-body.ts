import type { FastifyInstance } from 'fastify';
import { validation } from '../../errors.js';

/** PostgreSQL text cannot hold U+0000; rejecting it here keeps such input a 400 instead of a database error. */
function hasNul(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (depth > 32 || v === null || typeof v !== 'object') return false;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (hasNul(x, depth + 1)) return true;
  return false;
}

/** JSON bodies: parsed with JSON.parse (no prototype pollution: Fastify's secure-json-parse), checked for NUL. */
export function installJsonBody(app: FastifyInstance): void {
  const defaultParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    defaultParser(req, body as string, (err, value) => {
      if (err) return done(validation('body is not valid JSON'), undefined);
      if (hasNul(value)) return done(validation('strings must not contain U+0000'), undefined);
      done(null, value);
    });
  });
}
