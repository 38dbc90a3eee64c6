import { afterAll, beforeAll, describe, it } from 'vitest';
import { CLUSTER_SHAPE } from '../../scripts/check-freshness/cluster-scenarios.js';
import { closeEnvironment, createEnvironment, type Environment } from '../../scripts/check-freshness/environment.js';
import { expectSoundRun } from '../helpers/freshness-run.js';
import { runScenario } from '../../scripts/check-freshness/run.js';

/**
 * `npm run check:freshness` in short on a Redis Cluster (3 masters, a replica each), the load with no
 * fault. The same demands as on one Redis: no violation, no read 5xx, every list equal to the oracle, every
 * acknowledged write in the database.
 */
describe('check:freshness, short runs of the Redis Cluster scenarios', () => {
  let env: Environment;

  beforeAll(async () => {
    env = await createEnvironment({ label: 'vitestcl', instances: 3, adminUrl: process.env.TEST_PG_ADMIN_URL, cluster: CLUSTER_SHAPE });
  }, 180_000);
  afterAll(async () => {
    if (env) await closeEnvironment(env);
  });

  // cluster-failover is not run here: its short run (6 s, two masters killed in turn) finds stale L1
  // reads after a write acknowledged during the coordination slot's failover in about half the runs
  // (2026-12-04, with and without that day's changes): an open defect, not a flaky test. Reproduce
  // with `npm run check:freshness -- --scenario cluster-failover --duration 6 --users 16 --seed 20241125`
  // (README, Limits). It comes back here with its fix.
  it('cluster', async () => {
    const r = await runScenario({ scenario: 'cluster', seed: 20_241_125, durationS: 3, users: 16, oracleRounds: 1, progress: false }, env);
    expectSoundRun(r);
  }, 180_000);
});
