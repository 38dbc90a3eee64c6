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
  readOther: number;
  /** Exceptions nobody caught (each would have crashed a gateway process). */
  uncaught: number;
  writes2xx: number;
  writes4xxExpected: number;
  writes503: number;
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
  totalMs: number;
}
