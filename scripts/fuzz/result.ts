/** What a fuzz session found (the CLI prints it, the test asserts on it). */
import type { Finding } from './checks.js';

export interface FindingGroup extends Finding {
  count: number;
  /** The first request that showed it, replayable. */
  example: string;
  /** The gateway's error log lines around it (5xx only). */
  log?: string[] | undefined;
}

export interface FuzzReport {
  seed: number;
  requested: number;
  sent: number;
  durationMs: number;
  routes: string[];
  byStatus: Record<string, number>;
  byCategory: Record<string, number>;
  byRoute: Record<string, Record<string, number>>;
  /** Requests that got no answer from the server (connection closed by it, client-side refusals). */
  noAnswer: Record<string, number>;
  /** Hostile phase: batches whose database snapshot was compared (all rejected) and how many were not. */
  dbBatches: { verified: number; skipped: number };
  twins: number;
  /** Mean answer time per route (ms), to spot input that is expensive to reject. */
  meanMsByRoute: Record<string, number>;
  /** Wall time of the setup (database, gateway, world) and of each phase (ms). */
  timings: Record<string, number>;
  slowest: Array<{ ms: number; request: string }>;
  findings: FindingGroup[];
}
