import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../../src/domain/auth/tokens.js';
import { authHook } from '../../src/http/plugins/auth.js';
import { TEST_JWT_SECRET } from '../helpers/config.js';
import { expectError, registerUser, SETUP_TIMEOUT_MS, uniqueUsername, type TestUser } from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/** The routes that need no token; every other registered route must answer 401 without one. */
const PUBLIC_ROUTES = new Set([
  'GET /health',
  'GET /ready',
  'GET /metrics',
  'POST /api/v1/auth/register',
  'POST /api/v1/auth/login',
  'GET /openapi.json',
]);
/** Static files: the API docs, and the demo client (a page that logs in through the API). */
const isStatic = (url: string) => url === '/docs' || url.startsWith('/docs/') || url === '/app' || url.startsWith('/app/');
const isPublic = (method: string, url: string) => PUBLIC_ROUTES.has(`${method === 'HEAD' ? 'GET' : method} ${url}`) || isStatic(url);
const ADMIN_ROUTES = ['GET /api/v1/admin/cache/stats', 'DELETE /api/v1/admin/cache'];
/**
 * The stream authenticates on the socket (the header, a `token` query parameter, or a first frame: a
 * browser's upgrade cannot carry a header), and says no with close code 4401: test/push/stream.test.ts.
 */
const SOCKET_AUTHENTICATED = new Set(['GET /api/v1/stream', 'HEAD /api/v1/stream']);

/** A concrete path for a route pattern: every parameter a well-formed id. */
const concrete = (url: string) => url.replace(/:[A-Za-z]+/g, '1').replace('*', 'x');

describe('authentication is attached per scope', () => {
  const adminName = uniqueUsername('adm');
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let routes: Array<{ method: string; url: string }>;
  let user: TestUser;
  beforeAll(async () => {
    env = await setupEnv('postgres', { ADMIN_USERNAMES: adminName });
    const seen = new Set<string>();
    routes = env.gateway.gw.app.routeTable.filter((r) => !seen.has(`${r.method} ${r.url}`) && seen.add(`${r.method} ${r.url}`));
    user = await registerUser(env.api, 'Scoped');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  it('every route outside the public list answers 401 in the error shape without a token, or with a bad one', async () => {
    const guarded = routes.filter((r) => !isPublic(r.method, r.url) && !SOCKET_AUTHENTICATED.has(`${r.method} ${r.url}`));
    expect(guarded.length).toBeGreaterThan(15);
    for (const { method, url } of guarded) {
      for (const authorization of [undefined, 'Bearer not-a-token', `Basic ${Buffer.from('a:b').toString('base64')}`]) {
        const res = await env.api.request(method, concrete(url), {
          headers: authorization === undefined ? {} : { authorization },
          ...(method === 'POST' || method === 'PATCH' ? { body: {} } : {}),
        });
        if (method === 'HEAD') expect(res.status, `${method} ${url}`).toBe(401);
        else expectError(res, 401, 'UNAUTHORIZED');
      }
    }
  });

  it('the OpenAPI document says which routes need a token: bearer for the guarded ones, an explicit empty list for the public ones', async () => {
    const doc = (await env.api.get('/openapi.json')).body;
    let operations = 0;
    for (const [path, item] of Object.entries<Record<string, { security?: unknown }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const url = path.replace(/\{([A-Za-z]+)\}/g, ':$1');
        const expected = SOCKET_AUTHENTICATED.has(`${method.toUpperCase()} ${url}`)
          ? [{ bearer: [] }, { tokenQuery: [] }, {}]
          : isPublic(method.toUpperCase(), url)
            ? []
            : [{ bearer: [] }];
        expect(op.security, `${method} ${path}`).toEqual(expected);
        operations++;
      }
    }
    expect(operations).toBeGreaterThan(20);
  });

  it('public routes answer without a token', async () => {
    expect((await env.api.get('/health')).status).toBe(200);
    expect((await env.api.get('/ready')).status).toBe(200);
    const metrics = await env.api.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('# TYPE');
    expect((await env.api.get('/openapi.json')).body.openapi).toMatch(/^3\./);
    expect((await env.api.get('/docs/')).status).toBe(200);
    const name = uniqueUsername('pub');
    expect((await env.api.post('/api/v1/auth/register', undefined, { username: name, password: 'password-123' })).status).toBe(201);
    const login = await env.api.post('/api/v1/auth/login', undefined, { username: name, password: 'password-123' });
    expect(login.status).toBe(200);
    const me = await env.api.get('/api/v1/auth/me', login.body.data.token);
    expect(me.status).toBe(200);
    expect(me.body.data.username).toBe(name);
  });

  it('admin routes need the admin role on top of a token', async () => {
    const res = await env.api.post('/api/v1/auth/register', undefined, { username: adminName, password: 'password-123' });
    expect(res.status, res.text).toBe(201);
    const adminToken: string = res.body.data.token;
    for (const route of ADMIN_ROUTES) {
      const [method, url] = route.split(' ') as [string, string];
      expectError(await env.api.request(method, url, { token: user.token }), 403, 'FORBIDDEN');
      const ok = await env.api.request(method, url, { token: adminToken });
      expect(ok.status, `${route}: ${ok.text}`).toBe(200);
      expect(ok.body.success).toBe(true);
    }
  });

  it('the authentication hook finishes synchronously, without a promise (the cached list’s hit path runs it)', () => {
    const hook = authHook(createTokenService(TEST_JWT_SECRET, 60));
    const run = (authorization: string | undefined) => {
      const req = { headers: { authorization } } as unknown as FastifyRequest;
      const calls: Array<Error | undefined> = [];
      const returned: unknown = hook(req, {} as FastifyReply, (err?: Error) => void calls.push(err));
      // `done` has been called by the time the hook returns, and the hook returns no promise.
      expect(returned).toBeUndefined();
      expect(calls).toHaveLength(1);
      return { req, err: calls[0] };
    };
    const good = run(`Bearer ${user.token}`);
    expect(good.err).toBeUndefined();
    expect(good.req.auth).toEqual({ sub: user.id, username: user.username, exp: expect.any(Number) });
    expect(run(undefined).err).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
