import { describe, expect, it } from 'vitest';
import { formatReport } from '../../scripts/fuzz/report.js';
import { runFuzz } from '../../scripts/fuzz/run.js';
import { ADMIN_URL } from '../helpers/postgres.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

/**
 * A short seeded run of the fuzzer (`npm run fuzz`): its own database and gateway (Redis as L2, a
 * namespace of its own), two victims and an attacker, hostile requests to every route. Zero findings:
 * no 5xx, every error in the contract's shape, nothing of the victims reaches the attacker, rejected
 * requests leave the database unchanged, the process stays up. A failure prints the report, with
 * the seed to replay it: `npm run fuzz -- --seed <seed> --requests 1500`.
 */
describe('fuzzer', () => {
  it('1500 seeded hostile requests to every route: no finding', async () => {
    const report = await runFuzz({ seed: 20_260_525, requests: 1500, databaseUrl: ADMIN_URL, redisUrl: SHARED_REDIS_URL, concurrency: 8 });
    expect(report.findings, formatReport(report)).toEqual([]);

    // The run did what it claims: every route of the route table, each family of hostile input, the
    // database watched through the hostile phase, victims' ids tried against never-issued ones.
    expect(report.sent).toBeGreaterThanOrEqual(1500);
    const fuzzed = Object.keys(report.byRoute);
    expect(report.routes.length).toBeGreaterThan(20);
    for (const route of report.routes) expect(fuzzed, formatReport(report)).toContain(route);
    const categories = Object.keys(report.byCategory).join(' ');
    for (const family of ['token:', 'route:mutated', 'route:malformed', 'route:oversize', 'route:deep', 'protocol', 'unrouted', 'wrong-method', 'valid:victim', 'valid:attacker']) {
      expect(categories).toContain(family);
    }
    expect(report.dbBatches.verified).toBeGreaterThanOrEqual(5);
    expect(report.twins).toBeGreaterThan(0);
    expect(report.byStatus['413']).toBeGreaterThan(0);
  }, 240_000);
});
