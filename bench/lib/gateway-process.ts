/**
 * The benchmarks' gateway process: the harness's child gateway (support/gateway-child.ts) which, with
 * BENCH_BARE_TOKEN, also serves the "bare route": the unavoidable work of a cached list request only —
 * verify the same bearer token, send the same bytes (the body, and the headers the contract requires:
 * ETag, Cache-Control, X-Cache) — which is the limit the real hit path is measured against. Its URL
 * comes in the ready message as `bareUrl`.
 */
import Fastify from 'fastify';
import { createTokenService } from '../../src/domain/auth/tokens.js';
import { serveGatewayChild } from '../../support/gateway-child.js';

await serveGatewayChild(async (gw, config) => {
  const token = process.env.BENCH_BARE_TOKEN;
  if (!token) return {};
  const listed = await gw.app.inject({ method: 'GET', url: '/api/v1/conversations', headers: { authorization: `Bearer ${token}` } });
  const bytes = listed.rawPayload;
  const { etag, 'cache-control': cacheControl } = listed.headers as Record<string, string>;
  const tokens = createTokenService(config.jwtSecret!, config.jwtTtlSeconds);
  const bare = Fastify({ logger: false });
  bare.get('/api/v1/conversations', (req, reply) => {
    tokens.verify((req.headers.authorization ?? '').slice(7));
    reply.header('etag', etag).header('cache-control', cacheControl).header('x-cache', 'HIT-L1');
    // Not returned once sent, as the real route does not: Fastify would wait on the reply (a thenable).
    reply.type('application/json; charset=utf-8').send(bytes);
  });
  return { bareUrl: await bare.listen({ host: '127.0.0.1', port: 0 }) };
});
