import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeEnvironment, createEnvironment, type Environment } from '../../scripts/check-freshness/environment.js';
import { summary } from '../../scripts/check-freshness/report.js';
import type { RunResult } from '../../scripts/check-freshness/result.js';
import { expectSoundRun } from '../helpers/freshness-run.js';
import { runScenario } from '../../scripts/check-freshness/run.js';
import { SCENARIOS } from '../../scripts/check-freshness/scenarios.js';

/**
 * `npm run check:freshness` in short: every fault scenario for a few seconds (the long Redis outages
 * for 5 s) on one environment
 * (3 instances, a private Redis, a fresh database, an uncached oracle), each with users of its own.
 * Each must check reads (with no violation of the freshness guarantee), answer no read with a 5xx
 * (pg-terminate: only reads whose connection was killed), leave every list equal to the oracle, and
 * keep every acknowledged write in the database.
 */
describe('check:freshness, short runs of every scenario', () => {
  let env: Environment;
  const results = new Map<string, RunResult>();

  beforeAll(async () => {
    env = await createEnvironment({ label: 'vitest', instances: 3, adminUrl: process.env.TEST_PG_ADMIN_URL });
  }, 180_000);
  afterAll(async () => {
    if (env) await closeEnvironment(env);
  });

  // The long outages in short: 5 s, longer than the first lease window (the default lease, 2 s, plus
  // the 50 ms command timeout), so that writes also take the path past it (they wait for nobody and
  // queue their versions for replay); then 3 s of load once Redis is back.
  const timings = { pauseMs: 3000, killMs: 2000, outageMs: 5000, afterOutageMs: 3000 };

  for (const scenario of SCENARIOS) {
    it(scenario, async () => {
      const r = await runScenario({ scenario, seed: 20_241_125, durationS: 3, users: 16, ...timings, oracleRounds: 1, progress: false }, env);
      results.set(scenario, r);
      const report = expectSoundRun(r);
      if (scenario === 'redis-outage-pause' || scenario === 'redis-outage-kill') {
        // Writes were sent past the outage's first lease window, and after Redis came back.
        const [, , pastWindow, back] = r.writeLatency ?? [];
        expect(pastWindow?.n, report).toBeGreaterThan(0);
        expect(back?.n, report).toBeGreaterThan(0);
      }
    }, 180_000);
  }
});

/**
 * The checker's self-test (`npm run check:freshness -- --self-test`) in short: instance 0's list cache
 * is detached from the writer (Gateway.detachListCache), so its writes reach no cache. The checker must
 * report stale reads and lists that differ from the oracle, or its checks are vacuous. An environment
 * of its own: the detach cannot be undone.
 */
describe('check:freshness catches a cache that is never told about writes', () => {
  it('reports violations and oracle mismatches', async () => {
    const r = await runScenario({
      scenario: 'none',
      seed: 20_241_126,
      durationS: 3,
      users: 12,
      instances: 2,
      oracleRounds: 1,
      sabotage: true,
      progress: false,
      adminUrl: process.env.TEST_PG_ADMIN_URL,
    });
    const report = summary(r);
    expect(r.readsChecked, report).toBeGreaterThan(0);
    expect(r.violations, report).toBeGreaterThan(0);
    expect(r.oracleMismatches, report).toBeGreaterThan(0);
    expect(r.passed, report).toBe(false);
  }, 180_000);
});
