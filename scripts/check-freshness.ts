/**
 * `npm run check:freshness -- [--seed N] [--duration S] [--users N]
 *                             [--scenario none|redis-kill|redis-pause|bus-kill|pg-terminate|redis-outage-pause|redis-outage-kill|restart|cluster|cluster-failover|all]
 *                             [--outage-ms MS] [--after-outage-ms MS]
 *                             [--database-url postgres://...] [--admin-url postgres://...] [--instances N] [--json file] [--self-test]`
 *
 * Checks the freshness guarantee of the API contract under a seeded, randomized, concurrent workload
 * on 3 gateway instances that share one PostgreSQL database and one Redis of the tool's own (so that
 * faults can be injected into it; the cluster scenarios: a Redis Cluster of 3 masters and 3 replicas): every list read must reflect every write acknowledged before the
 * read was sent, by a user it affects (see scripts/check-freshness/checker.ts for the facts checked and
 * model.ts for why each is decidable). After the load (and the fault) every list from every instance
 * must equal the uncached oracle byte for byte, and the database must hold every acknowledged write.
 * Exits 1 on any violation, read 5xx, unexpected write status, oracle mismatch, database failure or
 * exception escaping the gateway. The long outages (`redis-outage-pause`: SIGSTOP, `redis-outage-kill`:
 * SIGKILL then an empty restart) last `--outage-ms` (30000) from 0.3 × the duration, and the load goes on
 * for `--after-outage-ms` (15000) once Redis is back; their summary has write latency by phase.
 * `--self-test` makes instance 0 skip cache invalidation and exits 0
 * only if the checker reports it (proof that the checks are not vacuous).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { summary, table } from './check-freshness/report.js';
import type { RunResult } from './check-freshness/result.js';
import { runScenario } from './check-freshness/run.js';
import { SCENARIOS, type Scenario } from './check-freshness/scenarios.js';
import { CLUSTER_SCENARIOS, type ClusterScenario } from './check-freshness/cluster-scenarios.js';

function fail(msg: string): never {
  process.stderr.write(`check:freshness: ${msg}\n`);
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    duration: { type: 'string', default: '15' },
    users: { type: 'string', default: '30' },
    scenario: { type: 'string', default: 'none' },
    'database-url': { type: 'string' },
    'admin-url': { type: 'string' },
    instances: { type: 'string', default: '3' },
    'outage-ms': { type: 'string', default: '30000' },
    'after-outage-ms': { type: 'string', default: '15000' },
    json: { type: 'string' },
    'self-test': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (a.help) {
  process.stdout.write(
    'npm run check:freshness -- [--seed N] [--duration S] [--users N]\n' +
      `                           [--scenario ${[...SCENARIOS, ...CLUSTER_SCENARIOS].join('|')}|all]\n` +
      '                           [--outage-ms MS (redis-outage-*: 30000)] [--after-outage-ms MS (load after it: 15000)]\n' +
      '                           [--database-url URL] [--admin-url URL] [--instances N] [--json FILE] [--self-test]\n',
  );
  process.exit(0);
}
const int = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
};
const seed = int('seed', a.seed, 0, 2 ** 32 - 1);
const durationS = int('duration', a.duration, 1, 3600);
const users = int('users', a.users, 3, 1000);
const instances = int('instances', a.instances, 1, 16);
const outageMs = int('outage-ms', a['outage-ms'], 100, 3_600_000);
const afterOutageMs = int('after-outage-ms', a['after-outage-ms'], 0, 3_600_000);
const KNOWN: Array<Scenario | ClusterScenario> = [...SCENARIOS, ...CLUSTER_SCENARIOS];
const scenarios: Array<Scenario | ClusterScenario> =
  a.scenario === 'all' ? KNOWN : KNOWN.includes(a.scenario as Scenario) ? [a.scenario as Scenario] : fail(`unknown --scenario ${a.scenario}`);
if (a['database-url'] && !/^postgres(ql)?:\/\//.test(a['database-url'])) fail('--database-url must be postgres://...');

const results: RunResult[] = [];
for (const scenario of scenarios) {
  const r = await runScenario({
    scenario,
    seed,
    durationS,
    users,
    instances,
    outageMs,
    afterOutageMs,
    databaseUrl: a['database-url'],
    adminUrl: a['admin-url'] ?? process.env.TEST_PG_ADMIN_URL,
    progress: true,
    sabotage: a['self-test'],
  });
  results.push(r);
  process.stdout.write(`${summary(r)}\n\n`);
}
process.stdout.write(`${table(results)}\n`);
if (a.json) await writeFile(a.json, JSON.stringify(results, null, 2));
if (a['self-test']) {
  // The checker must notice a service that does not invalidate: violations expected, or it is vacuous.
  const caught = results.every((r) => r.violations > 0 && r.oracleMismatches > 0);
  process.stdout.write(caught ? 'self-test: the checker caught the sabotaged instance\n' : 'self-test FAILED: the sabotage went unnoticed\n');
  process.exit(caught ? 0 : 1);
}
process.exit(results.every((r) => r.passed) ? 0 : 1);
