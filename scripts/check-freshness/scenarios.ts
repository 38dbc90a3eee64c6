import { terminateBackends, type PgDatabase } from '../../support/postgres.js';
import type { RedisServer } from '../../support/redis.js';
import type { Balancer } from './balancer.js';

/**
 * The fault scenarios of the checker: none, a fault injected into its Redis or its database during the
 * load (a long Redis outage among them), or a rolling restart of the instances (each shut down gracefully and replaced in turn).
 */
export const SCENARIOS = ['none', 'redis-kill', 'redis-pause', 'bus-kill', 'pg-terminate', 'redis-outage-pause', 'redis-outage-kill', 'restart'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface FaultEvent {
  atMs: number;
  label: string;
  run: () => Promise<string>;
  /** This event starts the outage (timed from before it runs) or ends it (timed from when Redis is back). */
  outage?: 'start' | 'end';
}

/** The faults, and how long the load lasts at least (so that it goes on after the last fault). */
export interface FaultPlan {
  events: FaultEvent[];
  loadEndMs: number;
}

/** Timings of the faults a scenario injects. */
export interface FaultTimings {
  /** redis-pause: how long Redis stays stopped (default 5000). redis-kill: how long it stays dead (3000). */
  pauseMs?: number | undefined;
  killMs?: number | undefined;
  /** redis-outage-*: how long Redis stays stopped or dead (default 30000). */
  outageMs?: number | undefined;
  /** redis-outage-*: how long the load goes on after Redis is back (default 15000). */
  afterOutageMs?: number | undefined;
}

/**
 * The faults of `scenario` over a load of D ms, on the environment's Redis and database;
 * `terminations` receives the times around each pg-terminate (reads then may get a 503). A restart
 * step waits for the previous one: the rolling restart replaces one instance at a time.
 * The load lasts D ms, or until a second after the last fault; a long outage starts at 0.3·D and
 * the load goes on for `afterOutageMs` once Redis is back.
 */
export function faultPlan(scenario: Scenario, o: FaultTimings, D: number, redis: RedisServer, db: PgDatabase, adminUrl: string, terminations: number[], balancer: Balancer): FaultPlan {
  const events = faultEvents(scenario, o, D, redis, db, adminUrl, terminations, balancer);
  const lastFault = events.length ? Math.max(...events.map((p) => p.atMs)) : 0;
  const after = scenario === 'redis-outage-pause' || scenario === 'redis-outage-kill' ? (o.afterOutageMs ?? 15_000) : 1000;
  return { events, loadEndMs: Math.max(D, lastFault + after) };
}

function faultEvents(scenario: Scenario, o: FaultTimings, D: number, redis: RedisServer, db: PgDatabase, adminUrl: string, terminations: number[], balancer: Balancer): FaultEvent[] {
  const killMs = o.killMs ?? 3000;
  const pauseMs = o.pauseMs ?? 5000;
  const outageMs = o.outageMs ?? 30_000;
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
    case 'redis-outage-pause':
      return [
        { atMs: 0.3 * D, label: 'redis SIGSTOP (long outage)', outage: 'start', run: async () => (redis.pause(), '') },
        { atMs: 0.3 * D + outageMs, label: 'redis SIGCONT', outage: 'end', run: async () => (redis.resume(), '') },
      ];
    case 'redis-outage-kill':
      return [
        { atMs: 0.3 * D, label: 'redis SIGKILL (long outage)', outage: 'start', run: async () => (await redis.kill(), '') },
        { atMs: 0.3 * D + outageMs, label: 'redis restarted (empty)', outage: 'end', run: async () => (await redis.restart(), '') },
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
