import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_SCENARIOS, CLUSTER_SHAPE } from '../../scripts/check-freshness/cluster-scenarios.js';
import { closeEnvironment, createEnvironment, type Environment } from '../../scripts/check-freshness/environment.js';
import { expectSoundRun } from '../helpers/freshness-run.js';
import { runScenario } from '../../scripts/check-freshness/run.js';

/**
 * `npm run check:freshness` in short on a Redis Cluster (3 masters, a replica each): the load with no
 * fault, then with two masters killed mid-load (the coordination slot's, then the fullest other one),
 * each replaced by its replica as the cluster promotes it. One environment for both, in this order.
 * The same demands as on one Redis: no violation, no read 5xx, every list equal to the oracle, every
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

  for (const scenario of CLUSTER_SCENARIOS) {
    it(scenario, async () => {
      // Long enough for both failovers to happen under load (each takes a few seconds).
      const durationS = scenario === 'cluster' ? 3 : 6;
      const r = await runScenario({ scenario, seed: 20_241_125, durationS, users: 16, oracleRounds: 1, progress: false }, env);
      const report = expectSoundRun(r);
      if (scenario === 'cluster-failover') {
        expect(r.faults.filter((f) => f.includes('promoted')), report).toHaveLength(2);
        expect(env.cluster!.nodes.filter((n) => !n.isRunning), report).toHaveLength(2);
      }
    }, 180_000);
  }
});
