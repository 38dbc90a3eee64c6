import type { PhaseLatency } from './latency.js';
import type { ClusterScenario } from './cluster-scenarios.js';
import type { Scenario } from './scenarios.js';

/** What one scenario's run found (the CLI prints it, the test asserts on it). */
export interface RunResult {
  scenario: Scenario | ClusterScenario;
  seed: number;
  users: number;
  instances: number;
  ops: number;
  reads: number;
  readsChecked: number;
  facts: number;
  violations: number;
  read5xx: number;
  read503Tolerated: number;
  /** Reads refused (no answer, 503) by an instance while it was shutting down (restart). */
  readsRefusedStopping: number;
  readOther: number;
  /** Exceptions nobody caught (each would have crashed a gateway process). */
  uncaught: number;
  writes2xx: number;
  writes4xxExpected: number;
  writes503: number;
  /** Writes refused (no answer, 503) by an instance while it was shutting down: never acknowledged. */
  writesRefusedStopping: number;
  writesUnexpected: number;
  oracleCompared: number;
  oracleMismatches: number;
  dbChecked: number;
  dbFailures: number;
  outboxRows: number;
  xcache: Record<string, number>;
  faults: string[];
  routes: string[];
  gatewayLogs: string[];
  phases: string[];
  failures: string[];
  passed: boolean;
  loadMs: number;
  /** Of this process (the instances and the load generator) during the load: 1.0 = CPU-bound. */
  eventLoopUtilization: number;
  /**
   * redis-outage-*: write latency (2xx) by phase: answered before the outage; in flight during its
   * first lease window (lease + command timeout + 0.5 s from its start); sent in the rest of it; sent
   * after Redis is back. Reported, not judged (figures of a loaded machine; bench/outage.ts measures
   * them on a quiet one).
   */
  writeLatency: PhaseLatency[] | undefined;
  totalMs: number;
}
