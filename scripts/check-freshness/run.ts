/**
 * One run of the freshness checker: a private Redis, a fresh database, N gateway instances and an
 * uncached oracle; a seeded concurrent workload with an optional fault; then the final comparisons.
 */
import type { Queryable } from '../../src/db/index.js';
import { mapLimit } from '../../support/concurrency.js';
import { Prng } from '../../support/prng.js';
import { closeEnvironment, createEnvironment, JWT_SECRET, type Environment } from './environment.js';
import { Balancer } from './balancer.js';
import { compareWithOracle, verifyDatabase } from './final.js';
import type { Gateways } from './gateways.js';
import { World } from './model.js';
import { latencyByPhase, type PhaseLatency, type WriteTiming } from './latency.js';
import { Progress } from './progress.js';
import type { RunResult } from './result.js';
import { faultPlan, type FaultEvent, type FaultPlan, type FaultTimings, type Scenario } from './scenarios.js';
import { CLUSTER_SHAPE, clusterFaultPlan, isClusterScenario, type ClusterScenario } from './cluster-scenarios.js';
import { newStats, ROUTES, WEIGHTS, Workload, type WriteChoice } from './workload.js';

export interface RunOptions extends FaultTimings {
  scenario: Scenario | ClusterScenario;
  seed: number;
  durationS: number;
  users: number;
  instances?: number;
  writers?: number;
  readers?: number;
  /** A database to use instead of a fresh one (migrated, never dropped). */
  databaseUrl?: string | undefined;
  /** Server on which the fresh database is created. */
  adminUrl?: string;
  /** Conversations per user stay below this (a list of limit 100 must hold them all). */
  maxConvsPerUser?: number;
  /** Reads per instance and list variant in the final oracle comparison (default 2: the cached one, then the refill). */
  oracleRounds?: number;
  /**
   * Self-test of the checker: instance 0 stops invalidating (its writes no longer reach any cache), so
   * the run must report violations and oracle mismatches. Never used for a real check.
   */
  sabotage?: boolean;
  progress?: boolean;
}

/** A cluster scenario's faults, with the load lasting until a second after the last one. */
function clusterPlan(events: FaultEvent[], D: number): FaultPlan {
  const lastFault = events.length ? Math.max(...events.map((p) => p.atMs)) : 0;
  return { events, loadEndMs: Math.max(D, lastFault + 1000) };
}

function fail(msg: string): never {
  throw new Error(msg);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function runScenario(o: RunOptions, shared?: Environment): Promise<RunResult> {
  const started = performance.now();
  const writers = o.writers ?? 6;
  const readers = o.readers ?? 6;
  const progress = new Progress(o.progress ?? true);
  const failures: string[] = [];
  const faults: string[] = [];
  const stats = newStats();
  const world = new World();
  const rng = new Prng(o.seed);
  const terminations: number[] = [];

  let env: Environment | undefined = shared;
  let loadMs = 0;
  let oracleCompared = 0;
  let oracleMismatches = 0;
  let dbChecked = 0;
  let dbFailures = 0;
  let outboxRows = -1;
  let eventLoopUtilization = 0;
  let writeLatency: PhaseLatency[] | undefined;
  const phases: string[] = [];
  let phaseAt = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases.push(`${name} ${((now - phaseAt) / 1000).toFixed(1)}s`);
    phaseAt = now;
  };

  // An exception nobody catches would crash a gateway process in production: record it as a failure
  // (with its stack) and go on, so that the rest of the run still reports.
  // Exclusive while the run lasts (a test runner's own handler would otherwise end the whole run).
  const uncaught: string[] = [];
  const onUncaught = (err: unknown) => {
    uncaught.push(err instanceof Error ? `${err.message}${(err as { code?: string }).code ? ` (${(err as { code?: string }).code})` : ''}\n${err.stack ?? ''}` : String(err));
  };
  const previousHandlers = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);

  try {
    // Detaching a cache cannot be undone: a sabotaged run would leave a shared environment broken.
    if (o.sabotage && shared) throw new Error('a sabotaged run needs an environment of its own');
    env ??= await createEnvironment({ label: o.scenario, instances: o.instances, databaseUrl: o.databaseUrl, adminUrl: o.adminUrl, cluster: isClusterScenario(o.scenario) ? CLUSTER_SHAPE : undefined });
    env.logs.counts.clear();
    const run = ++env.runs;
    const { redis, db, gateways, adminUrl } = env;
    const balancer = new Balancer(gateways);
    phase('start');

    // Every write route the gateway registered must be one the workload sends.
    const known = new Set<string>(Object.values(ROUTES));
    const writeRoutes = gateways.instances[0]!.gw.app.routeTable
      .filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method))
      .map((r) => `${r.method} ${r.url}`);
    for (const r of writeRoutes) if (!known.has(r)) failures.push(`write route ${r} is not exercised by the workload (add it)`);

    const wl = new Workload(world, balancer, stats, {
      maxConvsPerUser: o.maxConvsPerUser ?? 60,
      adminToken: '',
      adminUsername: env.adminUsername,
      t0: started,
      readFaultTolerated: (S, R, status) =>
        o.scenario === 'pg-terminate' && status === 503 && terminations.some((t) => S <= t + 2000 && R >= t),
    });

    // ---- setup: users, an admin, seed conversations, and one write of every kind.
    const prefix = `fc${env.suffix}r${run}`;
    if (!env.adminToken) {
      const admin = await wl.registerUser(rng, env.adminUsername, 'Admin');
      env.adminToken = admin.token;
      wl.userList.splice(wl.userList.indexOf(admin), 1);
      world.users.delete(admin.id);
    }
    wl.opts.adminToken = env.adminToken;
    // Two users through the register route, the rest inserted (see insertUsers).
    await wl.registerUser(rng, `${prefix}a`, 'Registered A');
    await wl.registerUser(rng, `${prefix}b`, 'Registered B');
    await wl.insertUsers(db.db, JWT_SECRET, Array.from({ length: Math.max(1, o.users - 2) }, (_, i) => `${prefix}u${i}`));
    phase('users');
    const users = wl.userList;
    await mapLimit(users, 8, async (u, i) => {
      const r = rng.fork();
      if (i % 2 === 0) await wl.createGroup(r, u);
      if (i % 3 === 0) await wl.createDirect(r, u);
      if (i % 8 === 0) await wl.createPublic(r, u);
      await wl.post(r, u);
    });
    phase('seed');
    const tour: WriteChoice[] = ['post', 'read', 'edit', 'deleteMsg', 'profile', 'rename', 'addMember', 'removeMember', 'leave', 'join', 'createGroup', 'createPublic', 'createDirect', 'deleteConv', 'login', 'clearCache', 'invalid'];
    await Promise.all(tour.map((k) => wl.write(k, rng.fork(), rng.pick(users))));
    const setupWrites = stats.writes;
    if (o.sabotage) {
      const detach = gateways.instances[0]!.gw.detachListCache;
      if (!detach) throw new Error('sabotage: instance 0 has no list cache to detach');
      detach();
    }
    phase('setup');

    // ---- load with the fault schedule.
    const D = o.durationS * 1000;
    const { events: plan, loadEndMs } = isClusterScenario(o.scenario)
      ? clusterPlan(clusterFaultPlan(o.scenario, D, env.cluster ?? fail('a cluster scenario needs a cluster environment'), `${env.namespace}:{coord}:registry`), D)
      : faultPlan(o.scenario, o, D, redis ?? fail(`${o.scenario} needs an environment with one Redis`), db, adminUrl, terminations, balancer);
    const outage: { start?: number; end?: number } = {};
    const loadStart = performance.now();
    const elu0 = performance.eventLoopUtilization();
    let stop = false;
    const elapsed = () => performance.now() - loadStart;

    const writerLoop = async (r: Prng) => {
      while (!stop) {
        const u = r.pick(users);
        const op = await wl.write(r.weightedKey(WEIGHTS), r, u);
        if (op && op.status === 'ok' && r.bool(0.6)) await wl.readAfter(r, op);
      }
    };
    const readerLoop = async (r: Prng) => {
      while (!stop) await wl.readList(r, r.pick(users));
    };
    const line = () =>
      `[${o.scenario}] ${(elapsed() / 1000).toFixed(1)}s ops=${stats.writes} reads=${stats.reads} checked=${stats.readsChecked} facts=${stats.facts} violations=${stats.violations.length} read5xx=${stats.read5xx} w2xx=${stats.writes2xx} w503=${stats.writes503} wUnexp=${stats.writesUnexpected}`;
    const pumpTimer = setInterval(() => {
      wl.pump(false, 25);
      progress.update(line());
    }, 100);
    const faultRunner = (async () => {
      for (const ev of plan) {
        await sleep(ev.atMs - elapsed());
        try {
          if (ev.outage === 'start') outage.start = performance.now();
          const what = await ev.run();
          if (ev.outage === 'end') outage.end = performance.now();
          faults.push(`${(elapsed() / 1000).toFixed(1)}s ${ev.label}${what ? ` (${what})` : ''}`);
        } catch (err) {
          failures.push(`fault ${ev.label} failed: ${String(err)}`);
        }
      }
    })();
    const loops = [...Array.from({ length: writers }, () => writerLoop(rng.fork())), ...Array.from({ length: readers }, () => readerLoop(rng.fork()))];
    await sleep(loadEndMs);
    // The load lasts as long as the faults: a restart step or a failover (it waits for the promotion)
    // may end after the load's planned end.
    await faultRunner;
    stop = true;
    await Promise.all(loops);
    loadMs = elapsed();
    clearInterval(pumpTimer);
    eventLoopUtilization = performance.eventLoopUtilization(elu0).utilization;
    if (outage.start !== undefined && outage.end !== undefined) {
      // What a write may have to wait for in the outage: until no instance can trust its memory.
      const { leaseMs, redisTimeoutMs } = gateways.instances[0]!.gw.config.cache;
      const { start, end } = outage;
      const window = Math.min(end, start + leaseMs + redisTimeoutMs + 500);
      const doneAt = (t: WriteTiming) => t.sentAt + t.ms;
      // A write in flight when the outage began belongs to its first window, not to the healthy phase.
      writeLatency = latencyByPhase(stats.writeTimings, [
        { phase: 'healthy', includes: (t) => t.sentAt >= loadStart && doneAt(t) < start },
        { phase: 'outage, first lease window', includes: (t) => doneAt(t) >= start && t.sentAt < window },
        { phase: 'outage, after it', includes: (t) => t.sentAt >= window && t.sentAt < end },
        { phase: 'Redis back', includes: (t) => t.sentAt >= end },
      ]);
    }
    phase('load');

    // ---- heal, and wait until the service has recovered: leases back, queued invalidations replayed, outbox empty.
    if (redis?.isPaused) redis.resume();
    if (redis && !redis.isRunning) await redis.restart();
    for (const inst of gateways.instances) {
      try {
        await inst.gw.engine?.ready(20_000);
      } catch (err) {
        failures.push(`instance ${inst.index} did not recover its lease: ${String(err)}`);
      }
    }
    const drained = await waitRecovered(gateways, db.db, 40_000);
    if (!drained.ok) failures.push(`recovery incomplete after 40 s: ${drained.detail}`);
    progress.update(`[${o.scenario}] load done in ${(loadMs / 1000).toFixed(1)}s; checking the remaining reads…`);
    phase('recovery');
    wl.pump(true, Infinity);
    phase('check');

    // ---- final: lists vs the oracle, database durability and integrity.
    const oracle = await compareWithOracle(world, gateways.instances, gateways.oracle, o.oracleRounds ?? 2);
    oracleCompared = oracle.compared;
    oracleMismatches = oracle.mismatches.length;
    for (const m of oracle.mismatches.slice(0, 20)) failures.push(`oracle mismatch: ${m}`);
    for (const m of oracle.errors.slice(0, 20)) failures.push(`final read failed: ${m}`);
    const dbv = await verifyDatabase(world, db.db);
    dbChecked = dbv.checked;
    dbFailures = dbv.failures.length;
    outboxRows = dbv.outboxRows;
    for (const m of dbv.failures.slice(0, 20)) failures.push(`database: ${m}`);
    if (setupWrites === stats.writes) failures.push('the load sent no write');
    // A rolling restart is no database fault: an instance that stays up has no reason to answer 503.
    if (o.scenario === 'restart' && stats.writes503 > 0) failures.push(`${stats.writes503} writes got a 503 from an instance that was not shutting down`);
    if (o.scenario === 'restart' && faults.length < plan.length) failures.push(`only ${faults.length} of ${plan.length} restarts were done`);
    phase('final');
  } catch (err) {
    failures.push(`run aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    // Late errors of connections closed by the teardown still land here; then hand the handlers back.
    await sleep(200);
    process.off('uncaughtException', onUncaught);
    for (const h of previousHandlers) process.on('uncaughtException', h);
    if (env && !shared) await closeEnvironment(env).catch((err) => failures.push(`teardown: ${String(err)}`));
    phase('teardown');
  }

  for (const v of stats.violations.slice(0, 25)) {
    failures.push(
      `VIOLATION ${v.fact}: ${v.message} — reader ${v.reader} on instance ${v.instance} (${v.xcache}), GET ?${v.query} sent ${v.sentAtMs} ms, answered ${v.doneAtMs} ms` +
        (v.allowed !== undefined ? `; allowed ${JSON.stringify(v.allowed)}` : '') +
        (v.writes?.length ? `\n      writes:\n        ${v.writes.join('\n        ')}` : ''),
    );
  }
  if (uncaught.length > 0) {
    failures.push(`${uncaught.length} uncaught exception(s) in the gateway process — each would have crashed it; first: ${uncaught[0]!.split('\n').slice(0, 12).join('\n      ')}`);
  }
  for (const w of stats.unexpectedWrites) failures.push(`unexpected write status: ${w}`);
  for (const r of stats.readFailures) failures.push(`read failed: ${r}`);
  for (const e of stats.checkerErrors.slice(0, 5)) failures.push(`checker error: ${e}`);
  if (stats.checkerErrors.length > 0) failures.push(`${stats.checkerErrors.length} checker errors in all`);

  const passed =
    uncaught.length === 0 &&
    failures.length === 0 && stats.violations.length === 0 && stats.read5xx === 0 && stats.readOther === 0 && stats.writesUnexpected === 0 && oracleMismatches === 0 && dbFailures === 0;
  progress.done(`[${o.scenario}] ${passed ? 'PASS' : 'FAIL'}: ops=${stats.writes} reads checked=${stats.readsChecked} violations=${stats.violations.length}`);
  return {
    scenario: o.scenario,
    seed: o.seed,
    users: o.users,
    instances: env?.gateways.instances.length ?? 0,
    ops: stats.writes,
    reads: stats.reads,
    readsChecked: stats.readsChecked,
    facts: stats.facts,
    violations: stats.violations.length,
    read5xx: stats.read5xx,
    read503Tolerated: stats.read503Tolerated,
    readsRefusedStopping: stats.readsRefusedStopping,
    readOther: stats.readOther,
    uncaught: uncaught.length,
    writes2xx: stats.writes2xx,
    writes4xxExpected: stats.writes4xxExpected,
    writes503: stats.writes503,
    writesRefusedStopping: stats.writesRefusedStopping,
    writesUnexpected: stats.writesUnexpected,
    oracleCompared,
    oracleMismatches,
    dbChecked,
    dbFailures,
    outboxRows,
    xcache: Object.fromEntries(stats.xcache),
    faults,
    routes: [...stats.byRoute.entries()].map(([r, c]) => `${r} ${c.ok}/${c.sent}`),
    phases,
    gatewayLogs: (env?.logs.top(10) ?? []).map(([m, n]) => `${m} ×${n}`),
    failures,
    passed,
    loadMs,
    eventLoopUtilization,
    writeLatency,
    totalMs: performance.now() - started,
  };
}

/** Waits until every instance's queued invalidations are replayed and the outbox is empty. */
async function waitRecovered(gateways: Gateways, db: Queryable, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const pending = gateways.instances.map((i) => i.gw.engine?.stats().pendingReplays ?? 0);
    const rows = Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM cache_invalidations')).rows[0]!.n);
    const detail = `pending replays ${pending.join('/')}, outbox rows ${rows}`;
    if (pending.every((p) => p === 0) && rows === 0) return { ok: true, detail };
    if (performance.now() > deadline) return { ok: false, detail };
    await sleep(250);
  }
}
