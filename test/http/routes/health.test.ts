import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, setupEnv } from '../../helpers/gateway.js';

describe.each(BACKENDS)('health, readiness and docs (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  beforeAll(async () => {
    env = await setupEnv(backend);
  });
  afterAll(async () => env.teardown());

  it('GET /health answers ok', async () => {
    const res = await env.api.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /ready reports the database and Redis states', async () => {
    const res = await env.api.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ db: 'up', redis: 'disabled' });
  });

  it('publishes an OpenAPI document generated from the route schemas, and the docs UI', async () => {
    const doc = await env.api.get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.body.paths);
    for (const p of ['/api/v1/conversations', '/api/v1/conversations/{id}/messages', '/api/v1/auth/register']) {
      expect(paths).toContain(p);
    }
    expect(doc.body.paths['/api/v1/conversations'].get.parameters.map((p: any) => p.name)).toEqual(
      expect.arrayContaining(['limit', 'offset', 'type', 'withUserId', 'before']),
    );
    const ui = await env.api.get('/docs/');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('<html');
  });

  it('answers an unknown route with the error shape', async () => {
    const res = await env.api.get('/api/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ success: false, error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });
});
