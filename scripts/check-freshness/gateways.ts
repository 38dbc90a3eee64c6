import type { Logger } from 'pino';
import type { Gateway } from '../../src/server.js';
import { startGateway, startService, type GatewayEnv, type RunningGateway } from '../../support/gateway.js';
import { TimedClient } from './http.js';

export interface Instance {
  index: number;
  gw: Gateway;
  url: string;
  client: TimedClient;
}

export interface GatewaysOptions {
  databaseUrl: string;
  /** REDIS_URL, or REDIS_CLUSTER_NODES. */
  redis: { REDIS_URL: string } | { REDIS_CLUSTER_NODES: string };
  namespace: string;
  jwtSecret: string;
  instances: number;
  adminUsername: string;
  logger: Logger;
}

export interface Gateways {
  instances: Instance[];
  /** Same database, cache disabled, no Redis: every list straight from PostgreSQL. */
  oracle: Instance;
  close(): Promise<void>;
}

const timed = (index: number, r: RunningGateway): Instance => ({ index, gw: r.gw, url: r.url, client: new TimedClient(r.url) });

/** N in-process gateway instances of one service (one database, one Redis or Redis Cluster, one namespace) and an oracle. */
export async function startGateways(o: GatewaysOptions): Promise<Gateways> {
  const env: GatewayEnv = {
    DATABASE_URL: o.databaseUrl,
    JWT_SECRET: o.jwtSecret,
    CACHE_NAMESPACE: o.namespace,
    LOG_LEVEL: 'warn',
    ADMIN_USERNAMES: o.adminUsername,
  };
  const service = await startService(o.instances, { ...env, ...o.redis }, {
    options: (i) => ({ logger: o.logger.child({ instance: i }) }),
    readyTimeoutMs: 15_000,
  });
  try {
    const oracle = await startGateway({ ...env, CACHE_ENABLED: 'false' }, { logger: o.logger.child({ instance: 'oracle' }) });
    return {
      instances: service.instances.map((r, i) => timed(i, r)),
      oracle: timed(o.instances, oracle),
      async close() {
        await service.close();
        await oracle.close().catch(() => undefined);
      },
    };
  } catch (err) {
    await service.close();
    throw err;
  }
}
