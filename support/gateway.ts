import { loadConfig, type Config } from '../src/config.js';
import { createGateway, type Gateway, type GatewayOptions } from '../src/server.js';
import { HttpClient } from './http-client.js';

/** Environment variables as `loadConfig` reads them; an undefined value unsets a default. */
export type GatewayEnv = Record<string, string | undefined>;

/**
 * What every gateway of the harness starts from: loopback on a free port, quiet, no rate limit, no
 * demo data, no warm-up. The caller's environment goes on top.
 */
export const HARNESS_ENV: Readonly<Record<string, string>> = {
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_PER_MINUTE: '0',
  DEMO_SEED: 'false',
  CACHE_WARMUP_USERS: '0',
};

/** The config a harness gateway gets for `env`. */
export function harnessConfig(env: GatewayEnv = {}): Config {
  return loadConfig({ ...HARNESS_ENV, ...env });
}

/** A gateway in this process, listening. */
export interface RunningGateway {
  gw: Gateway;
  url: string;
  api: HttpClient;
  close(): Promise<void>;
}

export interface StartOptions extends GatewayOptions {
  /**
   * Wait until the instance's lease proves its invalidation bus alive (it serves from memory only
   * then, as after a real start), at most this long; a gateway without Redis is ready at once.
   * Default: do not wait.
   */
  readyTimeoutMs?: number;
}

/** A gateway of `harnessConfig(env)` in this process, listening on a free port. */
export async function startGateway(env: GatewayEnv, options: StartOptions = {}): Promise<RunningGateway> {
  const { readyTimeoutMs, ...gatewayOptions } = options;
  const gw = await createGateway(harnessConfig(env), gatewayOptions);
  try {
    const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
    if (readyTimeoutMs !== undefined) await gw.engine?.ready(readyTimeoutMs);
    return { gw, url, api: new HttpClient(url), close: () => gw.close() };
  } catch (err) {
    await gw.close().catch(() => undefined);
    throw err;
  }
}

/** Instances of one service: the same environment (database, Redis, cache namespace). */
export interface Service {
  instances: RunningGateway[];
  env: GatewayEnv;
  /** Starts one more instance of the service (the shared environment, `extraEnv` on top), ready. */
  add(options?: GatewayOptions, extraEnv?: GatewayEnv): Promise<RunningGateway>;
  /** Closes every instance (errors of an instance already closed are ignored). */
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Options of each initial instance, by its index (a logger of its own, a test seam). */
  options?: (index: number) => GatewayOptions;
  /** How long each instance may take to become ready (default 10 s). */
  readyTimeoutMs?: number;
}

/** `n` instances started one after the other, each ready before the next starts. */
export async function startService(n: number, env: GatewayEnv, opts: ServiceOptions = {}): Promise<Service> {
  const instances: RunningGateway[] = [];
  const close = async () => {
    for (const i of instances) await i.close().catch(() => undefined);
  };
  const add = async (options: GatewayOptions = {}, extraEnv: GatewayEnv = {}) => {
    const running = await startGateway({ ...env, ...extraEnv }, { ...options, readyTimeoutMs: opts.readyTimeoutMs ?? 10_000 });
    instances.push(running);
    return running;
  };
  try {
    for (let i = 0; i < n; i++) await add(opts.options?.(i));
  } catch (err) {
    await close();
    throw err;
  }
  return { instances, env, add, close };
}
