import { createDatabase, PG_ADMIN_URL, useDatabase, type PgDatabase } from '../../support/postgres.js';
import { RedisCluster, type RedisClusterOptions } from '../../support/redis-cluster.js';
import { RedisServer } from '../../support/redis.js';
import { startGateways, type Gateways } from './gateways.js';
import { LogCollector } from './logs.js';

/** The gateways' JWT secret (the workload signs tokens of users it inserts with it). */
export const JWT_SECRET = 'freshness-check-secret-0123456789';

/** What a scenario runs on: a private Redis (or Redis Cluster), a database, the instances and the oracle. */
export interface Environment {
  /** The one Redis; undefined on a cluster. */
  redis: RedisServer | undefined;
  cluster: RedisCluster | undefined;
  /** Gateways' CACHE_NAMESPACE. */
  namespace: string;
  db: PgDatabase;
  gateways: Gateways;
  logs: LogCollector;
  adminUrl: string;
  adminUsername: string;
  /** Token of the admin user (registered by the first scenario through the API). */
  adminToken: string | undefined;
  suffix: string;
  runs: number;
}

export interface EnvironmentOptions {
  label: string;
  instances?: number;
  databaseUrl?: string | undefined;
  adminUrl?: string | undefined;
  /** A Redis Cluster of this shape instead of one Redis. */
  cluster?: RedisClusterOptions | undefined;
}

export async function createEnvironment(o: EnvironmentOptions): Promise<Environment> {
  const adminUrl = o.adminUrl ?? PG_ADMIN_URL;
  const suffix = `${Date.now().toString(36)}${process.pid.toString(36)}`.slice(-10);
  const adminUsername = `fcadmin${suffix}`;
  const logs = new LogCollector('warn');
  const cluster = o.cluster ? await RedisCluster.start(o.cluster) : undefined;
  const redis = cluster ? undefined : await RedisServer.start();
  const namespace = `fc${suffix}`;
  let db: PgDatabase | undefined;
  try {
    db = o.databaseUrl
      ? await useDatabase(o.databaseUrl, { max: 1 })
      : await createDatabase({ prefix: `chatgate_fresh_${o.label}`, adminUrl, max: 1 });
    const gateways = await startGateways({
      databaseUrl: db.url,
      redis: cluster ? { REDIS_CLUSTER_NODES: cluster.addresses.join(',') } : { REDIS_URL: redis!.url },
      namespace,
      jwtSecret: JWT_SECRET,
      instances: o.instances ?? 3,
      adminUsername,
      logger: logs.logger,
    });
    return { redis, cluster, namespace, db, gateways, logs, adminUrl, adminUsername, adminToken: undefined, suffix, runs: 0 };
  } catch (err) {
    await db?.drop().catch(() => undefined);
    await redis?.stop();
    await cluster?.stop();
    throw err;
  }
}

/** Closes the instances, stops the Redis (or cluster), drops the database (when it was created here). */
export async function closeEnvironment(env: Environment): Promise<void> {
  await env.gateways.close().catch(() => undefined);
  await env.redis?.stop().catch(() => undefined);
  await env.cluster?.stop().catch(() => undefined);
  await env.db.drop();
}
