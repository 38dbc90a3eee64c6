import { expect } from 'vitest';
import { summary } from '../../scripts/check-freshness/report.js';
import type { RunResult } from '../../scripts/check-freshness/result.js';

/**
 * What every check:freshness run must show: reads checked with no violation of the freshness
 * guarantee, no read answered 5xx (pg-terminate: only reads whose connection was killed), every list
 * equal to the oracle, every acknowledged write in the database. Failures print the run's summary.
 */
export function expectSoundRun(r: RunResult): string {
  const report = summary(r);
  expect(r.readsChecked, report).toBeGreaterThan(0);
  expect(r.facts, report).toBeGreaterThan(0);
  expect(r.violations, report).toBe(0);
  expect(r.read5xx, report).toBe(0);
  expect(r.readOther, report).toBe(0);
  expect(r.writesUnexpected, report).toBe(0);
  expect(r.oracleCompared, report).toBeGreaterThan(0);
  expect(r.oracleMismatches, report).toBe(0);
  expect(r.dbFailures, report).toBe(0);
  expect(r.failures, report).toEqual([]);
  expect(r.uncaught, report).toBe(0);
  return report;
}
