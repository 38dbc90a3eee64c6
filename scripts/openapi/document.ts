import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { createGateway } from '../../src/server.js';

/**
 * The OpenAPI document as a gateway serves it: one started on an in-memory embedded database (no
 * server needed), asked for `/openapi.json` over HTTP, and stopped.
 */
export async function fetchServedDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: 'memory://',
    JWT_SECRET: randomBytes(24).toString('base64url'),
    LOG_LEVEL: 'silent',
    DEMO_SEED: 'false',
    CACHE_WARMUP_USERS: '0',
  });
  const gateway = await createGateway(config);
  try {
    const url = await gateway.app.listen({ host: config.host, port: 0 });
    const res = await fetch(`${url}/openapi.json`);
    if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  } finally {
    await gateway.close();
  }
}
