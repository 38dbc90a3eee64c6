import type { Logger } from 'pino';
import { loadConfig } from '../../../src/config.js';
import { createGateway, type Gateway } from '../../../src/server.js';
import { TimedClient } from './http.js';

export interface Instance {
  index: number;
  gw: Gateway;
  url: string;
  client: TimedClient;
}

export interface ClusterOptions {
  databaseUrl: string;
  redisUrl: string;
  namespace: string;
  jwtSecret: string;
  instances: number;
  adminUsername: string;
  logger: Logger;
}

export interface Cluster {
  instances: Instance[];
  /** Same database, cache disabled, no Redis: every list straight from PostgreSQL. */
  oracle: Instance;
  close(): Promise<void>;
}

function env(o: ClusterOptions, extra: Record<string, string>): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: o.databaseUrl,
    JWT_SECRET: o.jwtSecret,
    CACHE_NAMESPACE: o.namespace,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0',
    DEMO_SEED: 'false',
    CACHE_WARMUP_USERS: '0',
    ADMIN_USERNAMES: o.adminUsername,
    ...extra,
  };
}

async function start(index: number, e: Record<string, string>, logger: Logger): Promise<Instance> {
  const gw = await createGateway(loadConfig(e), { logger });
  const url = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  return { index, gw, url, client: new TimedClient(url) };
}

/** N in-process gateway instances of one service (one database, one Redis, one namespace) and an oracle. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const instances: Instance[] = [];
  let oracle: Instance | undefined;
  const close = async () => {
    for (const i of [...instances, ...(oracle ? [oracle] : [])]) await i.gw.close().catch(() => undefined);
  };
  try {
    for (let i = 0; i < o.instances; i++) {
      instances.push(await start(i, env(o, { REDIS_URL: o.redisUrl }), o.logger.child({ instance: i })));
    }
    // An instance serves from its memory only once its lease proves the bus alive.
    await Promise.all(instances.map((i) => i.gw.engine?.ready(15_000)));
    oracle = await start(o.instances, env(o, { CACHE_ENABLED: 'false' }), o.logger.child({ instance: 'oracle' }));
  } catch (err) {
    await close();
    throw err;
  }
  return { instances, oracle, close };
}
