/**
 * The child's side of `startGatewayProcess`: a gateway configured by its environment (like `npm
 * start`) that reports `{ url, ...extra }` on IPC once listening and ready, answers `{ cmd: 'stats' }`
 * with the engine's counters and `{ cmd: 'memory' }` with `process.memoryUsage()`, and closes on
 * `{ cmd: 'exit' }` or when its parent goes away. SIGTERM and SIGINT stop it as they stop `npm start`.
 * Run as it is, it is the plain entry; an entry of its own (bench/lib/gateway-process.ts) calls
 * `serveGatewayChild` with an `extend` that adds something to the process before it reports.
 */
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from '../src/config.js';
import { createGateway, type Gateway } from '../src/server.js';
import { exitOnSignals } from '../src/shutdown.js';

export type ChildReady = { url: string } & Record<string, unknown>;
export type ParentMessage = { cmd: 'stats' } | { cmd: 'memory' } | { cmd: 'exit' };

export async function serveGatewayChild(extend?: (gw: Gateway, config: Config) => Promise<Record<string, unknown>>): Promise<void> {
  const config = loadConfig(process.env);
  const gw = await createGateway(config);
  const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  // Serve from memory only once the lease proves the invalidation bus alive (as a real start would).
  await gw.engine?.ready(10_000).catch(() => undefined);
  const extra = extend ? await extend(gw, config) : {};
  const exit = () => void gw.close().finally(() => process.exit(0));
  process.on('message', (m: ParentMessage) => {
    if (m.cmd === 'stats') process.send?.({ stats: gw.listCache?.stats() ?? null });
    if (m.cmd === 'memory') {
      // With --expose-gc, a full collection first: what live objects hold, not garbage not yet collected.
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ memory: process.memoryUsage() });
    }
    if (m.cmd === 'exit') exit();
  });
  process.on('disconnect', exit);
  exitOnSignals(gw);
  process.send?.({ ...extra, url } satisfies ChildReady);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await serveGatewayChild();
