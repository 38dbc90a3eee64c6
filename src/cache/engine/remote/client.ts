import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../types.js';

/**
 * Client options for every engine connection.
 * - enableOfflineQueue false: with Redis down, a command fails at once instead of waiting in a queue
 *   (the "app hangs when Redis is down" reports of cache-manager/keyv users).
 * - retryStrategy always returns a delay: with the offline queue off, a client that stops reconnecting
 *   would stay unusable for good. Capped exponential backoff.
 * - No commandTimeout on the command connection: every call gets a deadline from deadline.ts instead
 *   (see there why ioredis' own would misfire after event-loop stalls).
 * - maxRetriesPerRequest 0: a command is never replayed on a new connection.
 * - Auto-pipelining: commands issued in the same tick go out in one write; under concurrency the
 *   socket writes are the largest CPU cost of the Redis path.
 */
export function clientOptions(connectionName: string, commandTimeout?: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(20 * 2 ** Math.min(times - 1, 6), 1000),
    connectTimeout: 2000,
    lazyConnect: false,
    connectionName,
    enableAutoPipelining: true,
  };
}

/** A connection to one Redis or to a Redis Cluster (ioredis' Cluster: slot routing, MOVED/ASK, reconnects). */
export type RedisConnection = Redis | Cluster;

export function connect(target: RedisTarget, opts: RedisOptions): RedisConnection {
  if ('url' in target) return new Redis(target.url, opts);
  const cluster: ClusterOptions = {
    redisOptions: opts,
    enableOfflineQueue: false,
    enableAutoPipelining: opts.enableAutoPipelining ?? false,
    // Reads from masters only: a replica may lag behind a write that has answered.
    scaleReads: 'master',
    clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times - 1, 5), 1000),
    // A failover is noticed through MOVED / connection errors; refresh the slot map on them promptly.
    slotsRefreshTimeout: 1000,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
  };
  return new Cluster(target.cluster, cluster);
}

/** The nodes a SCAN must visit: the masters of a cluster, or the one server. */
export function scanNodes(c: RedisConnection): Redis[] {
  return c instanceof Cluster ? c.nodes('master') : [c];
}

export function isCluster(c: RedisConnection): c is Cluster {
  return c instanceof Cluster;
}
