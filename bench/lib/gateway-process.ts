/**
 * A gateway in a process of its own, for benchmarks (the load generator must not share its event loop).
 * Configured by environment like `npm start`. With BENCH_BARE_TOKEN it also serves the "bare route":
 * the unavoidable work of a cached list request only — verify the same bearer token, send the same
 * bytes (the body, and the headers the contract requires: ETag, Cache-Control, X-Cache) — which is
 * the limit the real hit path is measured against.
 * Protocol: sends { url, bareUrl } on IPC when listening; answers { cmd: 'stats' } with engine stats.
 */
import Fastify from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createTokenService } from '../../src/domain/auth/tokens.js';
import { createGateway } from '../../src/server.js';

const config = loadConfig(process.env);
const gw = await createGateway(config);
const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
// Serve from memory only once the lease proves the invalidation bus alive (as a real start would).
await gw.engine?.ready(10_000).catch(() => undefined);
let bareUrl: string | undefined;

const token = process.env.BENCH_BARE_TOKEN;
if (token) {
  const listed = await gw.app.inject({ method: 'GET', url: '/api/v1/conversations', headers: { authorization: `Bearer ${token}` } });
  const bytes = listed.rawPayload;
  const { etag, 'cache-control': cacheControl } = listed.headers as Record<string, string>;
  const tokens = createTokenService(config.jwtSecret!, config.jwtTtlSeconds);
  const bare = Fastify({ logger: false });
  bare.get('/api/v1/conversations', (req, reply) => {
    tokens.verify((req.headers.authorization ?? '').slice(7));
    reply.header('etag', etag).header('cache-control', cacheControl).header('x-cache', 'HIT-L1');
    return reply.type('application/json; charset=utf-8').send(bytes);
  });
  bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
}

process.send?.({ url, bareUrl });
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'stats') process.send?.({ stats: gw.listCache?.stats() ?? null });
  if (m.cmd === 'exit') void gw.close().finally(() => process.exit(0));
});
process.on('disconnect', () => void gw.close().finally(() => process.exit(0)));
