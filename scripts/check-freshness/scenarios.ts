import { terminateBackends, type PgDatabase } from '../../support/postgres.js';
import type { RedisServer } from '../../support/redis.js';
import type { Balancer } from './balancer.js';

/**
 * The fault scenarios of the checker: none, a fault injected into its Redis or its database during the
 * load, or a rolling restart of the instances (each shut down gracefully and replaced in turn).
 */
export const SCENARIOS = ['none', 'redis-kill', 'redis-pause', 'bus-kill', 'pg-terminate', 'restart'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface FaultEvent {
  atMs: number;
  label: string;
  run: () => Promise<string>;
}

/** Timings of the faults a scenario injects. */
export interface FaultTimings {
  /** redis-pause: how long Redis stays stopped (default 5000). redis-kill: how long it stays dead (3000). */
  pauseMs?: number | undefined;
  killMs?: number | undefined;
}

/**
 * The faults of `scenario` over a load of D ms, on the environment's Redis and database;
 * `terminations` receives the times around each pg-terminate (reads then may get a 503). A restart
 * step waits for the previous one: the rolling restart replaces one instance at a time.
 */
export function faultPlan(
  scenario: Scenario,
  o: FaultTimings,
  D: number,
  redis: RedisServer,
  db: PgDatabase,
  adminUrl: string,
  terminations: number[],
  balancer: Balancer,
): FaultEvent[] {
  const killMs = o.killMs ?? 3000;
  const pauseMs = o.pauseMs ?? 5000;
  switch (scenario) {
    case 'none':
      return [];
    case 'redis-kill':
      return [
        { atMs: 0.3 * D, label: 'redis SIGKILL', run: async () => (await redis.kill(), '') },
        { atMs: 0.3 * D + killMs, label: 'redis restarted (empty)', run: async () => (await redis.restart(), '') },
      ];
    case 'redis-pause':
      return [
        { atMs: 0.3 * D, label: 'redis SIGSTOP', run: async () => (redis.pause(), '') },
        { atMs: 0.3 * D + pauseMs, label: 'redis SIGCONT', run: async () => (redis.resume(), '') },
      ];
    case 'bus-kill':
      return [0.2, 0.45, 0.7].map((f) => ({
        atMs: f * D,
        label: 'CLIENT KILL TYPE pubsub',
        run: async () => {
          const c = redis.client();
          try {
            return `${String(await c.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))} subscriber connections killed`;
          } finally {
            c.disconnect();
          }
        },
      }));
    case 'pg-terminate':
      return [0.2, 0.45, 0.7].map((f) => ({
        atMs: f * D,
        label: 'pg_terminate_backend(all of the database)',
        run: async () => {
          terminations.push(performance.now());
          const n = await terminateBackends(db.name, adminUrl);
          terminations.push(performance.now());
          return `${n} backends terminated`;
        },
      }));
    case 'restart':
      return Array.from({ length: balancer.size }, (_, k) => ({
        atMs: (0.15 + (0.6 * k) / balancer.size) * D,
        label: `graceful restart of instance ${k}`,
        run: () => balancer.restart(k),
      }));
  }
}
