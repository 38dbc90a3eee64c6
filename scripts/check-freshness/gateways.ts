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
  /** A new instance of the service in place of instance `index` (already closed): same configuration, ready. */
  replace(index: number): Promise<Instance>;
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
  // A graceful stop (the restart scenario) drains for a moment first, as a balancer's health checks need.
  const service = await startService(o.instances, { ...env, ...o.redis, SHUTDOWN_DELAY_MS: '300' }, {
    options: (i) => ({ logger: o.logger.child({ instance: i }) }),
    readyTimeoutMs: 15_000,
  });
  try {
    const oracle = await startGateway({ ...env, CACHE_ENABLED: 'false' }, { logger: o.logger.child({ instance: 'oracle' }) });
    const instances = service.instances.map((r, i) => timed(i, r));
    return {
      instances,
      oracle: timed(o.instances, oracle),
      async replace(index) {
        const old = instances[index]!;
        const at = service.instances.findIndex((r) => r.gw === old.gw);
        if (at >= 0) service.instances.splice(at, 1);
        const fresh = timed(index, await service.add({ logger: o.logger.child({ instance: index }) }));
        instances[index] = fresh;
        return fresh;
      },
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
