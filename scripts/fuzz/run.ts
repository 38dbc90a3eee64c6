import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { Gateway } from '../../src/server.js';
import { startGateway } from '../../support/gateway.js';
import { createDatabase, type PgDatabase } from '../../support/postgres.js';
import { Prng } from '../../support/prng.js';
import { Checker, describeRequest, describeResponse, type Finding } from './checks.js';
import { Generator, isWrite, type FuzzRequest, type Mode } from './generate.js';
import { HttpSender, sendRaw, type Outcome } from './http.js';
import { Progress } from './progress.js';
import type { FindingGroup, FuzzReport } from './result.js';
import { routeSpecs } from './routes.js';
import { snapshot, snapshotDiff } from './snapshot.js';
import { ValidOps } from './valid-ops.js';
import { buildWorld, ID_RANGES_SQL, type World } from './world.js';

export interface FuzzOptions {
  seed: number;
  /** Requests to send (the hostile phase gets 60 %, the phase with valid writes the rest). */
  requests: number;
  /** A PostgreSQL server URL; the fuzzer creates (and drops) a database of its own on it. */
  databaseUrl: string;
  /** Redis for the cache's L2 (a namespace of the run's own); memory-only cache when unset. */
  redisUrl?: string | undefined;
  concurrency?: number | undefined;
  /** The gateway's log level on stderr (default: errors are kept for the report, nothing printed). */
  logLevel?: string | undefined;
  /** A progress line on stderr. */
  progress?: boolean | undefined;
  /** Per request. */
  timeoutMs?: number | undefined;
}

const PHASE_HOSTILE_SHARE = 0.6;
const BATCH = 100;

/** Runs the whole fuzz session: database, gateway, world, both phases, checks, teardown. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const concurrency = opts.concurrency ?? 8;
  const rng = new Prng(opts.seed);
  const findings = new Map<string, FindingGroup>();
  const errorLog: string[] = [];
  const report: FuzzReport = {
    seed: opts.seed,
    requested: opts.requests,
    sent: 0,
    durationMs: 0,
    routes: [],
    byStatus: {},
    byCategory: {},
    byRoute: {},
    noAnswer: {},
    dbBatches: { verified: 0, skipped: 0 },
    twins: 0,
    meanMsByRoute: {},
    timings: {},
    slowest: [],
    findings: [],
  };
  const record = (f: Finding, example: string, log?: string[]) => {
    const key = `${f.kind}|${f.route}|${f.status ?? ''}|${f.kind === 'error-shape' || f.kind === 'error-status' ? f.message.slice(0, 60) : ''}`;
    const g = findings.get(key);
    if (g) g.count++;
    else findings.set(key, { ...f, count: 1, example, log });
  };

  // Crashes: an exception nobody caught would end a real server process.
  const onCrash = (kind: string) => (err: unknown) =>
    record({ kind: 'crash', message: `${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, route: '-', status: undefined }, '-');
  const onUncaught = onCrash('uncaughtException');
  const onUnhandled = onCrash('unhandledRejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);

  const timeByRoute: Record<string, { n: number; ms: number }> = {};
  let phaseStart = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    report.timings[name] = Math.round(now - phaseStart);
    phaseStart = now;
  };
  let database: PgDatabase | undefined;
  let gw: Gateway | undefined;
  let sender: HttpSender | undefined;
  try {
    database = await createDatabase({ prefix: 'chatgate_fuzz', adminUrl: opts.databaseUrl, max: 1 });
    await database.db.exec(ID_RANGES_SQL);

    const logger = gatewayLogger(opts.logLevel, errorLog);
    const jwtSecret = randomBytes(24).toString('hex');
    const operatorName = `fzop${randomBytes(4).toString('hex')}`;
    const running = await startGateway(
      {
        DATABASE_URL: database.url,
        REDIS_URL: opts.redisUrl,
        CACHE_NAMESPACE: `fuzz${process.pid}x${Date.now().toString(36)}`,
        CACHE_TTL_SECONDS: '600',
        JWT_SECRET: jwtSecret,
        LOG_LEVEL: opts.logLevel ?? 'error',
        // On, so that its hook runs on every request, but far above what the fuzzer sends.
        RATE_LIMIT_PER_MINUTE: '1000000000',
        ADMIN_USERNAMES: operatorName,
      },
      { logger, readyTimeoutMs: 10_000 },
    );
    gw = running.gw;
    const port = Number(new URL(running.url).port);
    sender = new HttpSender('127.0.0.1', port, concurrency, opts.timeoutMs ?? 20_000);
    const world = await buildWorld(sender, jwtSecret, operatorName);
    const routes = routeSpecs(gw.app);
    report.routes = routes.map((r) => `${r.method} ${r.url}`);
    const gen = new Generator(world, routes);
    const valid = new ValidOps(world);
    const checker = new Checker(world);
    const send = (req: FuzzRequest): Promise<Outcome> => (req.raw ? sendRaw('127.0.0.1', port, req.raw) : sender!.send(req.wire!));

    lap('setup');
    const progress = new Progress(opts.progress ?? false, opts.requests);
    const logMark = () => errorLog.length;

    const handle = async (req: FuzzRequest): Promise<Outcome> => {
      const mark = logMark();
      const out = await send(req);
      report.sent++;
      const status = out.ok ? String(out.res.status) : 'no-answer';
      report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
      const cat = req.category.split(/[:+]/)[0] + (req.category.includes(':') ? `:${req.category.split(':')[1]!.split('+')[0]}` : '');
      report.byCategory[cat] = (report.byCategory[cat] ?? 0) + 1;
      const byRoute = (report.byRoute[req.route] ??= {});
      byRoute[status] = (byRoute[status] ?? 0) + 1;
      if (!out.ok) report.noAnswer[out.error.split(':')[0]!] = (report.noAnswer[out.error.split(':')[0]!] ?? 0) + 1;
      if (out.ok) noteSlow(report, out.res.ms, req);
      const t = (timeByRoute[req.route] ??= { n: 0, ms: 0 });
      t.n++;
      t.ms += out.ok ? out.res.ms : out.ms;
      for (const f of checker.check(req, out)) {
        record(f, `${describeRequest(req)}${out.ok ? `\n      → ${describeResponse(out.res)}` : ''}`, f.kind === '5xx' ? errorLog.slice(mark, mark + 5) : undefined);
      }
      if (req.twin && out.ok) {
        const twinReq: FuzzRequest = { ...req, wire: req.twin, twin: undefined, foreign: [], mustReject: true, rejectReason: 'never-issued id' };
        const twinOut = await send(twinReq);
        report.twins++;
        for (const f of checker.check(twinReq, twinOut)) record(f, describeRequest(twinReq));
        for (const f of checker.checkTwin(req, out, twinOut)) record(f, `${describeRequest(req)}\n      twin: ${describeRequest(twinReq)}`);
      }
      if (out.ok && out.res.status >= 200 && out.res.status < 300 && req.onSuccess) {
        try {
          req.onSuccess(JSON.parse(out.res.text).data);
        } catch {
          // a 2xx without the data shape is reported by the checker
        }
      }
      progress.tick(findings.size);
      return out;
    };

    const runBatch = async (reqs: FuzzRequest[]): Promise<Array<[FuzzRequest, Outcome]>> => {
      const results: Array<[FuzzRequest, Outcome]> = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(concurrency, reqs.length) }, async () => {
          while (next < reqs.length) {
            const req = reqs[next++]!;
            results.push([req, await handle(req)]);
          }
        }),
      );
      return results;
    };

    // Phase 1: only requests the contract rejects; the database must not change.
    const hostile = Math.round(opts.requests * PHASE_HOSTILE_SHARE);
    progress.phase('hostile (database watched)');
    for (let done = 0; done < hostile; done += BATCH) {
      const reqs = Array.from({ length: Math.min(BATCH, hostile - done) }, () => gen.next(rng.fork(), 'reject' as Mode));
      const before = await snapshot(database.db);
      const results = await runBatch(reqs);
      const accepted = results.filter(([r, o]) => o.ok && o.res.status < 400 && (r.raw ? !/^(GET|HEAD) /.test(r.raw.toString('latin1')) : isWrite(r.wire!.method)));
      if (accepted.length > 0) {
        // Reported by the checker already (a rejected request was accepted); this batch's diff proves nothing.
        report.dbBatches.skipped++;
        continue;
      }
      const after = await snapshot(database.db);
      const diff = snapshotDiff(before, after);
      report.dbBatches.verified++;
      if (diff.length > 0) {
        const writes = results.filter(([r]) => (r.wire ? isWrite(r.wire.method) : true));
        record(
          { kind: 'db-changed', message: `rejected requests changed the database: ${diff.join('; ')}`, route: '-', status: undefined },
          `one of these ${writes.length} rejected writes:\n${writes
            .slice(0, 20)
            .map(([r, o]) => `      ${describeRequest(r)} → ${o.ok ? o.res.status : o.error}`)
            .join('\n')}`,
        );
      }
    }
    await healthCheck(sender, record, 'after the hostile phase');
    lap('hostile');

    // Phase 2: valid writes (victims keep writing secrets) mixed with anything.
    progress.phase('mixed (valid writes)');
    const mixed = opts.requests - hostile;
    for (let done = 0; done < mixed; done += BATCH) {
      const reqs = Array.from({ length: Math.min(BATCH, mixed - done) }, () => {
        const r = rng.fork();
        return r.bool(0.35) ? valid.next(r) : gen.next(r, 'any');
      });
      await runBatch(reqs);
    }
    await healthCheck(sender, record, 'after the mixed phase');
    lap('mixed');
    await finalSweep(sender, world, checker, record);
    lap('sweep');
    progress.done();
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    sender?.close();
    if (gw) {
      if (opts.redisUrl) await gw.listCache?.clear().catch(() => undefined);
      await gw.close().catch(() => undefined);
    }
    await database?.drop().catch((err) => process.stderr.write(`fuzz: could not drop ${database?.name}: ${String(err)}\n`));
  }
  for (const [route, t] of Object.entries(timeByRoute)) report.meanMsByRoute[route] = Math.round(t.ms / t.n);
  report.durationMs = Math.round(performance.now() - started);
  report.findings = [...findings.values()].sort((a, b) => a.kind.localeCompare(b.kind) || b.count - a.count);
  return report;
}

function gatewayLogger(level: string | undefined, errorLog: string[]): Logger {
  return pino(
    { level: level ?? 'error', base: { service: 'chatgate' } },
    {
      write(line: string) {
        if (errorLog.length < 10_000) errorLog.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line.trimEnd());
        if (level) process.stderr.write(line);
      },
    },
  );
}

function noteSlow(report: FuzzReport, ms: number, req: FuzzRequest): void {
  if (report.slowest.length < 5 || ms > report.slowest[report.slowest.length - 1]!.ms) {
    report.slowest.push({ ms: Math.round(ms), request: describeRequest(req).slice(0, 200) });
    report.slowest.sort((a, b) => b.ms - a.ms);
    report.slowest.length = Math.min(report.slowest.length, 5);
  }
}

type Record_ = (f: Finding, example: string) => void;

/** The process still answers, and its database too (/ready may take a few tries on a loaded machine). */
async function healthCheck(sender: HttpSender, record: Record_, when: string): Promise<void> {
  for (const path of ['/health', '/ready']) {
    let out = await sender.send({ method: 'GET', path, headers: {}, fresh: true });
    for (let i = 0; i < 5 && path === '/ready' && (!out.ok || out.res.status !== 200); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      out = await sender.send({ method: 'GET', path, headers: {}, fresh: true });
    }
    if (!out.ok || out.res.status !== 200) {
      record({ kind: 'down', message: `${path} ${when}: ${out.ok ? describeResponse(out.res) : out.error}`, route: `GET ${path}`, status: out.ok ? out.res.status : undefined }, `GET ${path}`);
    }
  }
}

/** Everything the attacker can read at the end (list, each conversation, its history): no victim data. */
async function finalSweep(sender: HttpSender, world: World, checker: Checker, record: Record_): Promise<void> {
  const auth = { authorization: `Bearer ${world.attacker.token}` };
  const get = async (path: string) => {
    const req: FuzzRequest = {
      n: 0,
      category: 'sweep',
      route: `sweep GET ${path.replace(/\/[0-9]+/g, '/:id').split('?')[0]}`,
      wire: { method: 'GET', path, headers: auth },
      auth: { kind: 'attacker', header: auth.authorization, validity: 'valid' },
      mustReject: false,
      rejectReason: '',
      expect401: false,
      foreign: [],
      actor: 'attacker',
    };
    const out = await sender.send(req.wire!);
    for (const f of checker.check(req, out)) record(f, describeRequest(req));
    return out.ok && out.res.status === 200 ? JSON.parse(out.res.text) : undefined;
  };
  const ids = new Set<string>();
  for (let offset = 0; offset < 1000; offset += 100) {
    const page = await get(`/api/v1/conversations?limit=100&offset=${offset}`);
    for (const c of page?.data ?? []) ids.add(c.id);
    if (!page?.pagination?.hasMore) break;
  }
  for (const id of [...ids].slice(0, 200)) {
    await get(`/api/v1/conversations/${id}`);
    await get(`/api/v1/conversations/${id}/messages?limit=100`);
  }
  for (const v of world.victimPrivateConvs) {
    if (ids.has(v)) record({ kind: 'victim-data-leak', message: `a victim's private conversation ${v} is in the attacker's list`, route: 'sweep', status: 200 }, 'GET /api/v1/conversations');
  }
}
