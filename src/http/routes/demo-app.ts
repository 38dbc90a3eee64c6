import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** public/app/ of the package: the same three levels up from src/http/routes/ (tsx, tests) and dist/http/routes/. */
const APP_DIR = fileURLToPath(new URL('../../../public/app/', import.meta.url));

/** openapi-fetch ships one self-contained ES module, which the browser loads as it is (no bundler). */
const OPENAPI_FETCH_DIST = join(dirname(createRequire(import.meta.url).resolve('openapi-fetch/package.json')), 'dist');
const VENDOR_FILES = new Set(['/index.mjs', '/index.mjs.map']);

/**
 * GET /app/: the demo web client (public/app/, plain ES modules, README "Demo client"), and the one
 * library it loads, under /app/vendor/openapi-fetch/ (the page's import map points there). Static files
 * only: the client uses the public API like any other. Hidden from the OpenAPI document.
 */
export async function demoAppRoutes(app: FastifyInstance): Promise<void> {
  // The page's relative URLs (app.css, the import map) resolve under /app/ only.
  app.get('/app', { schema: { hide: true } }, (_req, reply) => reply.redirect('/app/', 301));
  await app.register(fastifyStatic, {
    root: APP_DIR,
    prefix: '/app/',
    redirect: true,
    decorateReply: false,
    dotfiles: 'ignore',
  });
  await app.register(fastifyStatic, {
    root: OPENAPI_FETCH_DIST,
    prefix: '/app/vendor/openapi-fetch/',
    decorateReply: false,
    allowedPath: (pathName) => VENDOR_FILES.has(pathName),
  });
}
