import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, SETUP_TIMEOUT_MS } from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/** GET /app/: the demo client's files, and the one library file it loads; nothing else under /app. */
describe('the demo client’s files', () => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  beforeAll(async () => {
    env = await setupEnv('postgres');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  it('/app redirects to /app/, which serves the page, its modules and openapi-fetch without a token', async () => {
    const bare = await env.api.get('/app');
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/app/');

    const page = await env.api.get('/app/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('"openapi-fetch": "./vendor/openapi-fetch/index.mjs"');
    for (const path of ['/app/app.js', '/app/api.js', '/app/live-list.js', '/app/stream.js', '/app/render.js', '/app/vendor/openapi-fetch/index.mjs']) {
      const res = await env.api.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/javascript/);
    }
  });

  it('anything else is a 404 in the contract’s shape: other files of the package, paths out of the folder', async () => {
    for (const path of ['/app/vendor/openapi-fetch/index.d.mts', '/app/vendor/openapi-fetch/index.cjs', '/app/vendor/openapi-fetch/../package.json', '/app/%2e%2e/package.json', '/app/nope.js']) {
      expectError(await env.api.get(path), 404, 'NOT_FOUND');
    }
  });
});
