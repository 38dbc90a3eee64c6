/**
 * Cache engine vs bentocache 1.6, side by side, in one run.
 *
 *   npm run bench:cache                 # starts a private redis-server on a free port
 *   REDIS_URL=redis://host:6379 npm run bench:cache
 *
 * Both are configured alike: memory L1 with a byte budget + Redis L2 + Redis pub/sub bus, same TTL,
 * instances sharing one Redis (A fills and invalidates, B reads), same payload (an encoded
 * conversation-list page of ~4.4 KB plus an ETag). bentocache needs `serialize` for a byte budget, so
 * its L1 holds strings and parses on every hit; this engine holds the encoded Buffer.
 *
 * Each library runs in a child process of its own (a library's event-loop stalls must not stall the
 * other's heartbeats). The parent drives both phase by phase, alternating who goes first; every round
 * uses fresh keys; the best round counts: noise on a shared machine only ever makes a run slower.
 *
 * Writes the markdown table to stdout and JSON to bench/results/cache.json; progress on stderr.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createEngine, type CacheStats, type Codec, type Engine } from '../src/cache/engine/index.js';
import { RedisServer } from '../support/redis.js';

const ROUNDS = 3;
const TTL_MS = 60_000;
const L1_BYTES = 256 * 1024 * 1024;
const KEYS = 2000; // distinct groups per round for the miss and L2 phases
const CONCURRENCY = 32; // requests in flight for the Redis-bound phases
const HOT_KEYS = 1000; // L1 phase working set
const L1_OPS = 50_000;
const BENTO_L1_OPS = 3_000; // ~50x slower per hit: fewer ops keep the run short (ops/s is what counts)
const PEEK_OPS = 500_000;
const INVALIDATIONS = 200;
const FIELD = 'limit=20';
/**
 * Raised from the engine's 50 ms default: this measures throughput, and on a shared, CPU-starved
 * machine a 50 ms deadline trips the breaker (bentocache has no per-command timeout by default).
 */
const REDIS_TIMEOUT_MS = 1000;

type Lib = 'engine' | 'bento';
type Phase = 'miss' | 'l2' | 'l1' | 'peek' | 'inv' | 'invFast';

interface ChildReport {
  lib: Lib;
  round: number;
  ops: Partial<Record<Phase, number>>;
  maxLagMs: Partial<Record<Phase, number>>;
  checks: Record<string, number>;
  stats?: CacheStats;
}

function progress(msg: string): void {
  process.stderr.write(`\r[bench:cache] ${msg}`.padEnd(90));
}

function payload(): { body: string; etag: string } {
  const items = Array.from({ length: 20 }, (_, i) => ({
    id: `c_${1000 + i}`,
    title: `Conversation ${i} with a reasonably long title`,
    unread: i % 3,
    lastMessage: { id: `m_${90_000 + i}`, author: `u_${i}`, text: 'See you tomorrow at the station, bring the tickets', at: 1_760_000_000_000 + i },
    members: 2 + (i % 5),
  }));
  return { body: JSON.stringify({ items, next: 'cursor_abcdef' }), etag: '"w/9f86d081884c7d65"' };
}

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------------------------------ child

const loopDelay = monitorEventLoopDelay({ resolution: 5 });

/** Runs `total` async ops with `concurrency` in flight; returns ops/s. */
async function runAsync(label: string, total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  let lastReport = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (let mine = 1; ; mine++) {
      const i = next++;
      if (i >= total) return;
      await op(i);
      if ((mine & 255) === 0) {
        // An L1 hit resolves through microtasks only: without this, the workers would starve timers
        // and I/O (heartbeats, Redis replies) for seconds, which a server fed by sockets never does.
        await yieldToLoop();
        if (performance.now() - lastReport > 250) {
          lastReport = performance.now();
          progress(`${label}: ${i}/${total}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (total / (performance.now() - t0)) * 1000;
}

/** Sync ops in chunks, yielding to the event loop between chunks (not counted in the time). */
async function runSync(label: string, total: number, op: (i: number) => unknown): Promise<number> {
  progress(label);
  let busy = 0;
  for (let done = 0; done < total; ) {
    const n = Math.min(10_000, total - done);
    const t0 = performance.now();
    for (let i = done; i < done + n; i++) op(i);
    busy += performance.now() - t0;
    done += n;
    await yieldToLoop();
  }
  return (total / busy) * 1000;
}

/** One library under test, inside its child process. One round = setup, the phases in order, teardown. */
interface Subject {
  setup(round: number): Promise<void>;
  /** Runs one phase; returns ops/s (and fills `checks`). Undefined = phase not applicable. */
  phase(name: Phase, label: string): Promise<number | undefined>;
  teardown(): Promise<CacheStats | undefined>;
  checks: Record<string, number>;
}

const g = (i: number) => `u${i}`;

/** The cached value: the page bytes and their ETag (what the list keeps), as one piece kind. */
interface Page {
  body: Buffer;
  etag: string;
}
const pageCodec: Codec<Page> = {
  encode: (p) => Buffer.concat([Buffer.from(`${p.etag}\n`), p.body]),
  decode: (b) => {
    const nl = b.indexOf(0x0a);
    if (nl < 0) throw new Error('not a page');
    return { etag: b.toString('utf8', 0, nl), body: b.subarray(nl + 1) };
  },
};
const KIND = 'p';

function engineSubject(url: string, run: string): Subject {
  const { body, etag } = payload();
  const value: Page = { body: Buffer.from(body), etag };
  let a: Engine, b: Engine, f: Engine;
  let loads = 0;
  let version = 1;
  const loader = async (ids: string[]) => {
    loads++;
    return new Map(ids.map((id) => [id, { version: 1, value: value as unknown }]));
  };
  const get = (e: Engine, i: number) => e.getMany(KIND, [`${g(i)}:${FIELD}`], loader);
  const subject: Subject = {
    checks: {},
    async setup(round) {
      const opts = {
        namespace: `bench:${run}:r${round}:eng`,
        kinds: { [KIND]: pageCodec as Codec<unknown> },
        redis: { url },
        l1MaxBytes: L1_BYTES,
        ttlMs: TTL_MS,
        redisTimeoutMs: REDIS_TIMEOUT_MS,
        logger: pino({ level: 'warn' }, pino.destination(2)),
      };
      a = createEngine({ ...opts, name: 'bench-a' });
      b = createEngine({ ...opts, name: 'bench-b' });
      // 'fast' mode (pub/sub only), to show what the ack wait costs a write.
      f = createEngine({ ...opts, name: 'bench-fast', mode: 'fast' });
      await Promise.all([a.ready(10_000), b.ready(10_000), f.ready(10_000)]);
      subject.checks = {};
    },
    async phase(name, label) {
      switch (name) {
        case 'miss': {
          const ops = await runAsync(label, KEYS, CONCURRENCY, (i) => get(a, i));
          await sleep(200); // background L2 fills settle
          return ops;
        }
        case 'l2': {
          const before = b.stats().hits.l2;
          const ops = await runAsync(label, KEYS, CONCURRENCY, (i) => get(b, i));
          subject.checks.l2Hits = b.stats().hits.l2 - before;
          return ops;
        }
        case 'l1':
          for (let i = 0; i < HOT_KEYS; i++) await get(b, i);
          return runAsync(label, L1_OPS, 1, (i) => get(b, i % HOT_KEYS));
        case 'peek': {
          const ids = Array.from({ length: HOT_KEYS }, (_, i) => `${g(i)}:${FIELD}`);
          let misses = 0;
          const ops = await runSync(label, PEEK_OPS, (i) => {
            if (b.peek(KIND, ids[i % HOT_KEYS]!) === undefined) misses++;
          });
          subject.checks.peekMisses = misses;
          return ops;
        }
        case 'inv':
          return runAsync(label, INVALIDATIONS, 1, (i) => a.publish([{ kind: KIND, id: `${g(i)}:${FIELD}`, version: ++version, value }]));
        case 'invFast':
          return runAsync(label, INVALIDATIONS, 1, (i) => f.publish([{ kind: KIND, id: `${g(INVALIDATIONS + i)}:${FIELD}`, version: ++version, value }]));
      }
    },
    async teardown() {
      subject.checks.loads = loads;
      const stats = b.stats();
      await Promise.all([a.close(), b.close(), f.close()]);
      return stats;
    },
  };
  return subject;
}

function bentoSubject(url: string, run: string): Subject {
  const { body, etag } = payload();
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port || 6379) };
  let a: BentoCache<{ multi: ReturnType<typeof bentostore> }>, b: typeof a;
  let loads = 0;
  const factory = async () => {
    loads++;
    return { etag, body };
  };
  const key = (i: number) => `${g(i)}:${FIELD}`;
  const subject: Subject = {
    checks: {},
    async setup(round) {
      const make = () =>
        new BentoCache({
          default: 'multi',
          prefix: `bench:${run}:r${round}:bento`,
          ttl: TTL_MS,
          stores: {
            multi: bentostore()
              .useL1Layer(memoryDriver({ maxSize: L1_BYTES }))
              .useL2Layer(redisDriver({ connection }))
              .useBus(redisBusDriver({ connection })),
          },
        });
      a = make();
      b = make();
      await sleep(300); // let its bus subscribe
      subject.checks = {};
    },
    async phase(name, label) {
      switch (name) {
        case 'miss': {
          const ops = await runAsync(label, KEYS, CONCURRENCY, (i) => a.getOrSet({ key: key(i), factory }));
          await sleep(200);
          return ops;
        }
        case 'l2': {
          const before = loads;
          const ops = await runAsync(label, KEYS, CONCURRENCY, (i) => b.getOrSet({ key: key(i), factory }));
          subject.checks.l2Hits = KEYS - (loads - before);
          return ops;
        }
        case 'l1':
          for (let i = 0; i < HOT_KEYS; i++) await b.getOrSet({ key: key(i), factory });
          return runAsync(label, BENTO_L1_OPS, 1, (i) => b.getOrSet({ key: key(i % HOT_KEYS), factory }));
        case 'inv':
          return runAsync(label, INVALIDATIONS, 1, (i) => a.set({ key: key(i), value: { etag, body } }));
        default:
          return undefined;
      }
    },
    async teardown() {
      subject.checks.loads = loads;
      await Promise.all([a.disconnectAll(), b.disconnectAll()]);
      return undefined;
    },
  };
  return subject;
}

type Command = { cmd: 'setup'; round: number } | { cmd: 'phase'; name: Phase; label: string } | { cmd: 'teardown' } | { cmd: 'exit' };
type Reply = { ops?: number; maxLagMs?: number; checks?: Record<string, number>; stats?: CacheStats };

async function childLoop(lib: Lib, url: string, run: string): Promise<void> {
  const subject = lib === 'engine' ? engineSubject(url, run) : bentoSubject(url, run);
  loopDelay.enable();
  const handle = async (m: Command): Promise<Reply> => {
    switch (m.cmd) {
      case 'setup':
        await subject.setup(m.round);
        return {};
      case 'phase': {
        loopDelay.reset();
        const ops = await subject.phase(m.name, m.label);
        return { ops, maxLagMs: Math.round(loopDelay.max / 1e6), checks: subject.checks };
      }
      case 'teardown':
        return { stats: await subject.teardown(), checks: subject.checks };
      case 'exit':
        process.exit(0);
    }
  };
  // Commands arrive one at a time (the parent awaits each reply).
  process.on('message', (m: Command) => {
    handle(m).then(
      (r) => process.send?.(r),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
  await new Promise<never>(() => undefined);
}

// ----------------------------------------------------------------------------------------- parent

/** A child process per library, kept for all rounds (startup once), driven over IPC. */
class ChildProc {
  private readonly cp;
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;

  constructor(
    readonly lib: Lib,
    url: string,
    run: string,
  ) {
    // process.execArgv carries tsx's loader flags, so the child runs this same file as TypeScript.
    this.cp = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', lib, url, run], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.cp.on('message', (m: Reply) => {
      this.pending?.resolve(m);
      this.pending = undefined;
    });
    this.cp.on('exit', (code) => this.pending?.reject(new Error(`${lib} child exited with ${code}`)));
  }

  send(command: Command): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.cp.send(command);
    });
  }

  stop(): void {
    this.cp.send({ cmd: 'exit' } satisfies Command);
  }
}

async function parent(): Promise<void> {
  let testRedis: RedisServer | undefined;
  let url = process.env.REDIS_URL;
  if (!url) {
    progress('starting a private redis-server');
    testRedis = await RedisServer.start();
    url = testRedis.url;
  }
  const run = Date.now().toString(36);
  const t0 = performance.now();
  const loadBefore = loadavg()[0]!;
  const reports: ChildReport[] = [];
  const children = { engine: new ChildProc('engine', url, run), bento: new ChildProc('bento', url, run) };
  const libs: Lib[] = ['engine', 'bento'];
  const phases: Phase[] = ['miss', 'l2', 'l1', 'peek', 'inv', 'invFast'];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const round: Record<Lib, ChildReport> = {
        engine: { lib: 'engine', round: r, ops: {}, maxLagMs: {}, checks: {} },
        bento: { lib: 'bento', round: r, ops: {}, maxLagMs: {}, checks: {} },
      };
      await Promise.all(libs.map((lib) => children[lib].send({ cmd: 'setup', round: r })));
      for (const [pi, phase] of phases.entries()) {
        // Phase by phase, alternating who goes first: both sides of a row run seconds apart, so
        // that a busy neighbour on a shared machine hits both about equally.
        const order: Lib[] = (r + pi) % 2 === 0 ? ['engine', 'bento'] : ['bento', 'engine'];
        for (const lib of order) {
          const rep = await children[lib].send({ cmd: 'phase', name: phase, label: `round ${r + 1}/${ROUNDS} ${lib} ${phase}` });
          if (rep.ops !== undefined) round[lib].ops[phase] = rep.ops;
          if (rep.maxLagMs !== undefined) round[lib].maxLagMs[phase] = rep.maxLagMs;
        }
      }
      for (const lib of libs) {
        const rep = await children[lib].send({ cmd: 'teardown' });
        round[lib].checks = rep.checks ?? {};
        if (rep.stats) round[lib].stats = rep.stats;
        reports.push(round[lib]);
      }
    }
  } finally {
    children.engine.stop();
    children.bento.stop();
    process.stderr.write('\n');
  }
  const redisInfo = new Redis(url);
  const version = /redis_version:(\S+)/.exec(await redisInfo.info('server'))?.[1] ?? '?';
  redisInfo.disconnect();
  await testRedis?.stop();

  // Best of the rounds, counting only rounds whose L2 phase really was all L2 hits.
  const best = (lib: Lib, phase: Phase) =>
    Math.max(
      0,
      ...reports
        .filter((x) => x.lib === lib && (phase !== 'l2' || x.checks.l2Hits === KEYS))
        .map((x) => x.ops[phase] ?? 0),
    );
  const rows = [
    { op: 'L1 hit, get() (async)', engine: best('engine', 'l1'), bento: best('bento', 'l1') },
    { op: 'L1 hit, peek() (sync) vs bentocache getOrSet', engine: best('engine', 'peek'), bento: best('bento', 'l1') },
    { op: `L2 hit (other instance, cold L1; ${CONCURRENCY} in flight)`, engine: best('engine', 'l2'), bento: best('bento', 'l2') },
    { op: `miss + load + set (${CONCURRENCY} in flight)`, engine: best('engine', 'miss'), bento: best('bento', 'miss') },
    { op: 'write a new value that the other instance holds (engine: publish, waits for its ack; bentocache: set; sequential)', engine: best('engine', 'inv'), bento: best('bento', 'inv') },
    { op: "write a new value, engine in 'fast' mode (no ack wait; sequential)", engine: best('engine', 'invFast'), bento: best('bento', 'inv') },
  ];
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const table = [
    '| operation | chatgate engine ops/s | bentocache 1.6 ops/s | ratio |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.op} | ${fmt(r.engine)} | ${fmt(r.bento)} | ${(r.engine / r.bento).toFixed(1)}x |`),
  ].join('\n');
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    redis: version,
    redisUrl: process.env.REDIS_URL ? 'REDIS_URL' : 'private redis-server',
    payloadBytes: Buffer.byteLength(payload().body),
    rounds: ROUNDS,
    keysPerRound: KEYS,
    concurrency: CONCURRENCY,
    ttlMs: TTL_MS,
    engineRedisTimeoutMs: REDIS_TIMEOUT_MS,
    seconds: Math.round((performance.now() - t0) / 1000),
    // The 1-minute load average of the machine before and after: these are shared-machine figures.
    loadAverage: [Number(loadBefore.toFixed(1)), Number(loadavg()[0]!.toFixed(1))],
    cpus: availableParallelism(),
  };
  console.log(table);
  console.log(
    `\nnode ${meta.node}, redis ${meta.redis} (${meta.redisUrl}), payload ${meta.payloadBytes} B, best of ${ROUNDS} rounds, ` +
      `${meta.seconds} s, ${meta.cpus} CPUs, load average ${meta.loadAverage.join(' -> ')}`,
  );
  for (const x of reports) {
    if (x.checks.l2Hits !== KEYS || (x.checks.peekMisses ?? 0) > 0) {
      console.log(`note: ${x.lib} round ${x.round + 1}: L2 hits ${x.checks.l2Hits}/${KEYS}, peek misses ${x.checks.peekMisses ?? 0} (not counted)`);
    }
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'cache.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ ...meta, rows: rows.map((r) => ({ ...r, ratio: r.engine / r.bento })), table, reports }, null, 2) + '\n');
  console.log(`\nwritten: ${out}`);
}

const argv = process.argv.slice(2);
const main = argv[0] === '--child' ? () => childLoop(argv[1] as Lib, argv[2]!, argv[3]!) : parent;

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write('\n');
    console.error(err);
    process.exit(1);
  },
);
