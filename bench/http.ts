/**
 * `npm run bench` — the gateway measured end to end, over real HTTP, on real PostgreSQL and Redis.
 * Every figure is a ratio or a distribution measured side by side in one run (the machine is shared
 * and noisy; absolute numbers move, ratios much less).
 *
 *  1. hit path vs its limit: GET /api/v1/conversations from L1 vs a bare route (verify the same token,
 *     send the same bytes), autocannon, alternating rounds;
 *  2. L2 hit and miss path p50/p99 at each dataset scale, and growth from the smallest to the largest;
 *  3. write path: POST message with the cache on (2 instances, Redis, acks) vs off, 2 and 200 members;
 *  4. a chat workload: Zipf-active users, ~20 list reads per message, 3 instances: hit rate, p50/p99;
 *  5. cross-instance: time from a write's 2xx on A to B serving the new list;
 *  6. live updates (bench/push.ts): push latency from a write on A to a socket on B with 1,000 and
 *     10,000 idle connections on B (memory per connection), and fan-out to a 200-member group.
 *     On a database of its own: with `--only push` no dataset is generated.
 *
 *  7. outage (only when asked: --only outage): writes through 30 s of Redis paused, then killed.
 *
 * Options: --scales 100000,300000,1000000  --only hit,scales,write,workload,xinst,push,outage  --seconds 5
 *          --workload-seconds 20  --connections 32  --push-idle 1000,10000  --outage-seconds 30
 */
import autocannon from 'autocannon';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTokenService } from '../src/domain/auth/tokens.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { HttpClient } from '../support/http-client.js';
import { Prng } from '../support/prng.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { RedisServer } from '../support/redis.js';
import { generateDataset, type Dataset } from './lib/dataset.js';
import { outage } from './outage.js';
import { createBenchDatabase, type BenchDatabase } from './lib/pg.js';
import { Progress } from './lib/progress.js';
import { cpuMs, round, summarize, timeSequential } from './lib/stats.js';
import { pushBench } from './push.js';

const { values: args } = parseArgs({
  options: {
    scales: { type: 'string', default: '100000,300000,1000000' },
    only: { type: 'string', default: 'hit,scales,write,workload,xinst,push' },
    seconds: { type: 'string', default: '5' },
    'workload-seconds': { type: 'string', default: '20' },
    connections: { type: 'string', default: '32' },
    'outage-seconds': { type: 'string', default: '30' },
    'push-idle': { type: 'string', default: '1000,10000' },
  },
});
const only = new Set(args.only!.split(','));
const scales = args.scales!.split(',').map(Number);
const SECONDS = Number(args.seconds);
const SECRET = 'bench-secret-bench-secret-bench-secret';
const tokens = createTokenService(SECRET, 3600);
const progress = new Progress('bench');
const results: Record<string, unknown> = { startedAt: new Date().toISOString(), scales };
const md: string[] = [];
const LIST = '/api/v1/conversations';

const tokenFor = (u: { id: string; username: string }) => tokens.sign({ sub: u.id, username: u.username });
const ms = (x: number) => round(x);

interface Env {
  db: BenchDatabase;
  redis: RedisServer;
  data: Dataset;
  base: Record<string, string>;
}

const ENTRY = fileURLToPath(new URL('./lib/gateway-process.ts', import.meta.url));

/** A gateway process of the benchmark (with its bare route when BENCH_BARE_TOKEN is set). */
function startInstance(env: Record<string, string>, execArgv: string[] = []): Promise<GatewayProcess> {
  return startGatewayProcess(
    { LOG_LEVEL: 'warn', ...env },
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every gateway process, written there when it exits.
    { entry: ENTRY, execArgv: [...execArgv, ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])] },
  );
}

async function withInstances<T>(envs: Array<Record<string, string>>, fn: (i: GatewayProcess[]) => Promise<T>): Promise<T> {
  const started: GatewayProcess[] = [];
  try {
    for (const e of envs) started.push(await startInstance(e));
    return await fn(started);
  } finally {
    for (const i of started) await i.stop();
  }
}

/** 1. The hit path against its limit. */
async function hitPath(env: Env) {
  const hot = { id: env.data.hotUserId, username: env.data.hotUsername };
  const token = tokenFor(hot);
  return withInstances([{ ...env.base, BENCH_BARE_TOKEN: token }], async ([inst]) => {
    const first = await inst!.api.get(LIST, token);
    const seen: string[] = [];
    for (let i = 0; i < 5 && seen.at(-1) !== 'HIT-L1'; i++) seen.push(String((await inst!.api.get(LIST, token)).headers.get('x-cache')));
    if (seen.at(-1) !== 'HIT-L1') throw new Error(`expected an L1 hit, got ${seen.join(',')}`);
    const bareUrl = String(inst!.extra.bareUrl);
    const bare = await new HttpClient(bareUrl).get(LIST, token);
    if (bare.text !== first.text || bare.headers.get('etag') !== first.headers.get('etag')) throw new Error('the bare route does not send the same bytes');
    // Both routes live in one process: its CPU time over a round, per request served, is what each
    // route costs the server — a figure that holds even when the load generator, on the same 2 cores,
    // is what limits requests per second.
    const run = async (url: string, seconds = SECONDS) => {
      const cpu0 = cpuMs(inst!.pid);
      const r = await autocannon({ url: url + LIST, connections: Number(args.connections), duration: seconds, headers: { authorization: `Bearer ${token}` } });
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`errors during the run: ${r.non2xx} non-2xx, ${r.errors} errors`);
      const cpuUs = (((cpuMs(inst!.pid) ?? NaN) - (cpu0 ?? NaN)) * 1000) / r.requests.total;
      return { rps: r.requests.average, cpuUs };
    };
    // A warm-up of each (JIT, connection set-up), then rounds in alternating order: neither side
    // always runs first, on a warmer or cooler machine.
    const ROUNDS = 5;
    progress.update('hit path warm-up', 0, ROUNDS + 1);
    await run(inst!.url, 2);
    await run(bareUrl, 2);
    const rounds: Array<{ gateway: number; bare: number; gatewayCpuUs: number; bareCpuUs: number }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      progress.update(`hit path round ${i + 1}/${ROUNDS}`, i + 1, ROUNDS + 1);
      const gatewayFirst = i % 2 === 0;
      const a = await run(gatewayFirst ? inst!.url : bareUrl);
      const b = await run(gatewayFirst ? bareUrl : inst!.url);
      const [g, bare] = gatewayFirst ? [a, b] : [b, a];
      rounds.push({ gateway: g.rps, bare: bare.rps, gatewayCpuUs: g.cpuUs, bareCpuUs: bare.cpuUs });
    }
    const out = {
      bodyBytes: first.text.length,
      rounds,
      ratioMedian: round(summarize(rounds.map((r) => r.gateway / r.bare)).p50),
      cpuRatioMedian: round(summarize(rounds.map((r) => r.bareCpuUs / r.gatewayCpuUs)).p50),
    };
    md.push(
      '### 1. Hit path vs its limit (requests/s, autocannon, ' + `${args.connections} connections, ${SECONDS} s per round, alternating order after a warm-up)`,
      '| round | gateway L1 hit | bare route | ratio | server CPU µs per request: gateway / bare | CPU ratio (bare / gateway) |',
      '|---|---|---|---|---|---|',
      ...rounds.map(
        (r, i) =>
          `| ${i + 1} | ${Math.round(r.gateway)} | ${Math.round(r.bare)} | ${round(r.gateway / r.bare)} | ${round(r.gatewayCpuUs)} / ${round(r.bareCpuUs)} | ${round(r.bareCpuUs / r.gatewayCpuUs)} |`,
      ),
      `Median ratio: **${out.ratioMedian}** (goal ≥ 0.8); median CPU ratio ${out.cpuRatioMedian}; body ${out.bodyBytes} bytes (20 items).`,
      '',
    );
    return out;
  });
}

/** 2. L2 hit and miss path at one scale. */
async function l2AndMiss(env: Env, scale: number) {
  const token = tokenFor({ id: env.data.hotUserId, username: env.data.hotUsername });
  // An L1 budget smaller than one list: every read goes to L2. Two such instances side by side, each in
  // a namespace of its own: one storing the values its loads read deflated (the default threshold), one
  // storing them raw; and one with the cache off. They take turns in blocks of 50 sequential reads.
  const tiny = { ...env.base, CACHE_L1_MAX_BYTES: '1024' };
  return withInstances(
    [
      { ...tiny, CACHE_NAMESPACE: `${env.base.CACHE_NAMESPACE}l2d` },
      { ...tiny, CACHE_NAMESPACE: `${env.base.CACHE_NAMESPACE}l2r`, CACHE_COMPRESS_MIN_BYTES: '1000000000' },
      { ...env.base, CACHE_ENABLED: 'false' },
    ],
    async (insts) => {
      for (const i of insts) await i.api.get(LIST, token);
      const lat: number[][] = insts.map(() => []);
      const cpu = insts.map(() => 0);
      const origins = insts.map(() => new Map<string, number>());
      const N = 1000;
      const BLOCK = 50;
      for (let b = 0; b < N / BLOCK; b++) {
        for (let k = 0; k < insts.length; k++) {
          const j = (b + k) % insts.length;
          const inst = insts[j]!;
          const c0 = cpuMs(inst.pid) ?? NaN;
          lat[j]!.push(
            ...(await timeSequential(BLOCK, async () => {
              const r = await inst.api.get(LIST, token);
              const o = String(r.headers.get('x-cache'));
              origins[j]!.set(o, (origins[j]!.get(o) ?? 0) + 1);
            })),
          );
          cpu[j]! += (cpuMs(inst.pid) ?? NaN) - c0;
        }
      }
      const [deflated, raw, miss] = lat.map((l) => summarize(l));
      const cpuUs = cpu.map((c) => round((c * 1000) / N));
      return { scale, l2: deflated!, l2Raw: raw!, miss: miss!, cpuUsPerRead: { l2: cpuUs[0]!, l2Raw: cpuUs[1]!, miss: cpuUs[2]! }, origins: origins.map((o) => Object.fromEntries(o)) };
    },
  );
}

/**
 * 3. Write path, cache on vs off. Every configuration runs at once (two gateway processes each, the
 * second idle when it has no part) and takes turns in short blocks of sequential posts, in a rotating
 * order: each configuration sees the same machine, within a fraction of a second. Measured one
 * configuration after the other instead, the drift of this shared 2-core machine (±20 % in p50) was
 * larger than the effect; taking turns post by post, every post found the CPU caches full of the other
 * processes' data, which slowed every configuration alike (p50 ~2x) and so understated the ratio.
 *
 * What noise does not move is reported beside the latency: CPU time per write from /proc, summed over
 * the processes that do cache work (the writing gateway, the other gateway, Redis), and Redis commands
 * per write from INFO commandstats. Each Redis configuration has a Redis server of its own, so its
 * commands and CPU are its own; the lease renewals an idle pair of instances sends are measured apart
 * and subtracted.
 */
async function writePath(env: Env) {
  const hot = { id: env.data.hotUserId, username: env.data.hotUsername };
  const token = tokenFor(hot);
  const N = 600;
  const BLOCK = 20;
  const WARM_UP = 100;
  const convIds: Record<string, string> = {};
  const others200 = env.data.sampleUsers.slice(0, 199);
  await withInstances([{ ...env.base, CACHE_ENABLED: 'false', REDIS_URL: '' }], async ([inst]) => {
    const direct = await inst!.api.post(LIST, token, { type: 'direct', memberIds: [others200[0]!.id] });
    const group = await inst!.api.post(LIST, token, { type: 'group', title: 'Bench 200', memberIds: others200.map((o) => o.id) });
    convIds['2'] = direct.body.data.id;
    convIds['200'] = group.body.data.id;
  });
  const redisFast = await RedisServer.start();
  const redisOn = await RedisServer.start();
  const cluster = only.has('cluster') ? await RedisCluster.start({ masters: 3, replicas: 0 }) : undefined;
  // `peerReads`: before the timed posts, the other instance reads every member's list, so that it holds
  // every member's composed page (which each message must drop there) as well as the conversation.
  const CONFIGS: Array<{ key: string; label: string; redis?: RedisServer[]; envs: Array<Record<string, string>> }> = [
    { key: 'off', label: 'cache off (CACHE_ENABLED=false, no Redis)', envs: [{ ...env.base, CACHE_ENABLED: 'false', REDIS_URL: '' }, { ...env.base, CACHE_ENABLED: 'false', REDIS_URL: '' }] },
    { key: 'local', label: 'cache on, memory only (no Redis: L1 only, one instance)', envs: [{ ...env.base, REDIS_URL: '' }, { ...env.base, CACHE_ENABLED: 'false', REDIS_URL: '' }] },
    { key: 'fast', label: 'cache on, 2 instances + Redis, CACHE_MODE=fast (no ack wait)', redis: [redisFast], envs: [{ ...env.base, REDIS_URL: redisFast.url, CACHE_MODE: 'fast' }, { ...env.base, REDIS_URL: redisFast.url, CACHE_MODE: 'fast' }] },
    { key: 'on', label: 'cache on, 2 instances + Redis, fresh (default): waits for the other’s ack', redis: [redisOn], envs: [{ ...env.base, REDIS_URL: redisOn.url }, { ...env.base, REDIS_URL: redisOn.url }] },
    ...(cluster
      ? [
          {
            key: 'cluster',
            label: 'cache on, 2 instances + Redis Cluster (3 masters), fresh',
            redis: cluster.nodes,
            envs: [0, 1].map(() => ({ ...env.base, REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.addresses.join(',') })),
          },
        ]
      : []),
  ];
  const started: Array<{ key: string; redis: RedisServer[] | undefined; a: GatewayProcess; b: GatewayProcess }> = [];
  type Row = { p50: number; p90: number; cpu: number[]; cpuTotal: number; redisCalls: number; redisByCommand: Record<string, number> };
  const rows: Record<string, Row> = {};
  try {
    for (const c of CONFIGS) started.push({ key: c.key, redis: c.redis, a: await startInstance(c.envs[0]!), b: await startInstance(c.envs[1]!) });
    // Commands an idle pair sends (lease renewals), per second, for each Redis.
    const idle = new Map<string, Record<string, number>>();
    for (const c of started) {
      if (!c.redis) continue;
      const before = await commandStats(c.redis);
      await new Promise((r) => setTimeout(r, 3000));
      idle.set(c.key, perSecond(diffStats(before, await commandStats(c.redis)), 3));
    }
    for (const size of ['2', '200']) {
      const post = (inst: GatewayProcess, i: number) =>
        inst.api.post(`${LIST}/${convIds[size]}/messages`, token, { content: `bench message ${i}` }).then((r) => {
          if (r.status !== 201) throw new Error(`POST message: ${r.status} ${r.text}`);
        });
      for (let i = 0; i < WARM_UP; i++) for (const c of started) await post(c.a, i);
      const members = size === '2' ? [hot, others200[0]!] : [hot, ...others200];
      for (const c of started) {
        if (c.key === 'off' || c.key === 'local') continue;
        for (const m of members) {
          const r = await c.b.api.get(LIST, tokenFor(m));
          if (r.status !== 200) throw new Error(`GET list on the other instance: ${r.status}`);
        }
      }
      const lat = new Map(started.map((c) => [c.key, [] as number[]]));
      // CPU of the writing gateway, the other one and Redis over each configuration's own posts.
      const cpu = new Map(started.map((c) => [c.key, [0, 0, 0]]));
      const calls = new Map(started.map((c) => [c.key, {} as Record<string, number>]));
      const busyMs = new Map(started.map((c) => [c.key, 0]));
      for (let blk = 0; blk < N / BLOCK; blk++) {
        progress.update(`write path, ${size} members`, blk * BLOCK, N);
        for (let k = 0; k < started.length; k++) {
          const c = started[(blk + k) % started.length]!;
          const redisPids = c.redis?.map((r) => r.pid) ?? [];
          const stats0 = c.redis ? await commandStats(c.redis) : undefined;
          const before = [cpuMs(c.a.pid), cpuMs(c.b.pid), sumCpu(redisPids)];
          const t0 = performance.now();
          for (let i = 0; i < BLOCK; i++) {
            const t1 = performance.now();
            await post(c.a, blk * BLOCK + i);
            lat.get(c.key)!.push(performance.now() - t1);
          }
          busyMs.set(c.key, busyMs.get(c.key)! + performance.now() - t0);
          const sum = cpu.get(c.key)!;
          const after = [cpuMs(c.a.pid), cpuMs(c.b.pid), sumCpu(redisPids)];
          after.forEach((x, j) => (sum[j] = sum[j]! + ((x ?? 0) - (before[j] ?? 0))));
          if (c.redis && stats0) addInto(calls.get(c.key)!, diffStats(stats0, await commandStats(c.redis)));
        }
      }
      for (const c of started) {
        const sm = summarize(lat.get(c.key)!);
        const perWrite = cpu.get(c.key)!.map((x) => x / N);
        // Commands per write, less what the pair sends idle over the same time (lease renewals).
        const idleRate = idle.get(c.key) ?? {};
        const byCommand: Record<string, number> = {};
        for (const [cmd, n] of Object.entries(calls.get(c.key)!)) {
          const net = (n - ((idleRate[cmd] ?? 0) * busyMs.get(c.key)!) / 1000) / N;
          if (net > 0.005) byCommand[cmd] = round(net);
        }
        rows[`${c.key}${size}`] = {
          p50: sm.p50,
          p90: sm.p90,
          cpu: perWrite,
          cpuTotal: perWrite.reduce((a, b) => a + b, 0),
          redisCalls: round(Object.values(byCommand).reduce((a, b) => a + b, 0)),
          redisByCommand: byCommand,
        };
      }
    }
  } finally {
    for (const c of started) {
      await c.a.stop();
      await c.b.stop();
    }
    await redisFast.stop();
    await redisOn.stop();
    await cluster?.stop();
  }
  const ratio = (k: string, size: string) => round(rows[`${k}${size}`]!.p50 / rows[`off${size}`]!.p50);
  const cpuRatio = (k: string, size: string) => round(rows[`${k}${size}`]!.cpuTotal / rows[`off${size}`]!.cpuTotal);
  const added = (size: string) => rows[`on${size}`]!.cpuTotal - rows[`off${size}`]!.cpuTotal;
  const summary = {
    posts: N,
    rows,
    ratio2: ratio('on', '2'),
    ratio200: ratio('on', '200'),
    cpuRatio2: cpuRatio('on', '2'),
    cpuRatio200: cpuRatio('on', '200'),
    addedCpuMs2: round(added('2')),
    addedCpuMs200: round(added('200')),
    addedRatio200to2: round(added('200') / added('2')),
  };
  const cpuCell = (k: string) => `${rows[k]!.cpu.map(round).join(' + ')} = ${round(rows[k]!.cpuTotal)}`;
  const cmds = (k: string) => (rows[k]!.redisCalls > 0 ? `${rows[k]!.redisCalls} (${Object.entries(rows[k]!.redisByCommand).map(([c, n]) => `${c} ${n}`).join(', ')})` : '–');
  md.push(
    `### 3. Write path: POST message, ${N} sequential posts per configuration, configurations taking turns every ${BLOCK} posts; ratios to cache off`,
    '| configuration | members | p50 ms | p50 ratio | CPU ms per write: writer + other gateway + Redis | CPU ratio | Redis commands per write |',
    '|---|---|---|---|---|---|---|',
    ...CONFIGS.flatMap((c) =>
      ['2', '200'].map(
        (size) => `| ${c.label} | ${size} | ${ms(rows[`${c.key}${size}`]!.p50)} | ${ratio(c.key, size)} | ${cpuCell(`${c.key}${size}`)} | ${cpuRatio(c.key, size)} | ${cmds(`${c.key}${size}`)} |`,
      ),
    ),
    `CPU the cache adds per write (default row): ${round(added('2'))} ms with 2 members, ${round(added('200'))} ms with 200 (ratio ${summary.addedRatio200to2}). Goals: CPU ratio ≤ 1.4 for both sizes, added CPU for 200 within 1.2x of 2, Redis commands independent of the member count, p50 ratio ≤ 1.1. CPU from /proc (10 ms ticks: a statistical share over ${N} writes).`,
    '',
  );
  return summary;
}

/** Calls per command from INFO commandstats, summed over the servers (INFO itself left out). */
async function commandStats(servers: readonly RedisServer[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const redis of servers) {
    const c = redis.client();
    try {
      const text = String(await c.info('commandstats'));
      for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        if (m[1] !== 'info' && m[1] !== 'client|setname' && m[1] !== 'client' && !m[1]!.startsWith('cluster')) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
      }
    } finally {
      c.disconnect();
    }
  }
  return out;
}

function sumCpu(pids: ReadonlyArray<number | undefined>): number | undefined {
  if (pids.length === 0) return undefined;
  return pids.reduce<number>((acc, pid) => acc + (cpuMs(pid) ?? 0), 0);
}

function diffStats(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

function addInto(into: Record<string, number>, d: Record<string, number>): void {
  for (const [k, v] of Object.entries(d)) into[k] = (into[k] ?? 0) + v;
}

function perSecond(d: Record<string, number>, seconds: number): Record<string, number> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v / seconds]));
}

/** Zipf(s = 1) ranks over n items, by inverse CDF. */
function zipfSampler(n: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf[k - 1] = sum += 1 / k;
  return () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * 4. A chat workload on 3 instances, three ways:
 *  - zipf:    Zipf-active users, 1 write per 20 reads, an empty cache at start (no warm-up);
 *  - warm:    the same after the start-up warm-up of every workload user (CACHE_WARMUP_USERS);
 *  - refetch: after the same warm-up, every write is followed by a read of the list by each member of its
 *             conversation, on a random instance (clients refetch after a push): the reads the old design
 *             always missed. Its cold misses (a member's first read, of a user the warm-up did not reach)
 *             are counted apart.
 * A read "without a database query" is X-Cache HIT-L1 or HIT-L2. Memory: what the instances hold
 * (pieces, composed pages) and what Redis holds (used_memory growth, and the bytes of values written).
 */
async function workload(env: Env) {
  const { rows } = await env.db.db.query<{ id: string; username: string; convs: string[] }>(
    `SELECT u.id::text AS id, u.username, array_agg(m.conversation_id::text) AS convs
     FROM users u JOIN conversation_members m ON m.user_id = u.id AND m.left_at IS NULL
     WHERE u.username <> $1 GROUP BY u.id ORDER BY u.id LIMIT 10000`,
    [env.data.hotUsername],
  );
  const { rows: memberRows } = await env.db.db.query<{ cid: string; uids: string[] }>(
    `SELECT conversation_id::text AS cid, array_agg(user_id::text) AS uids FROM conversation_members
     WHERE left_at IS NULL AND conversation_id = ANY($1::bigint[]) GROUP BY conversation_id`,
    [[...new Set(rows.flatMap((r) => r.convs))]],
  );
  const membersOf = new Map(memberRows.map((r) => [r.cid, r.uids]));
  const users = rows.map((r) => ({ ...r, token: tokenFor(r) }));
  const byId = new Map(users.map((u) => [u.id, u]));
  const seconds = Number(args['workload-seconds']);
  const out: Record<string, unknown> = {};
  const table: string[] = [];
  const modes = ['zipf', 'warm', 'refetch', ...(only.has('cluster') ? (['cluster'] as const) : [])] as const;
  for (const mode of modes) {
    progress.update(`workload (${mode})`, 0);
    const prng = new Prng(42);
    const rand = () => prng.float();
    const zipf = zipfSampler(users.length, rand);
    // 'cluster': the zipf row again, on a Redis Cluster of 3 masters.
    const cluster = mode === 'cluster' ? await RedisCluster.start({ masters: 3, replicas: 0 }) : undefined;
    const servers = cluster ? cluster.nodes : [env.redis];
    const redisBefore = await usedMemory(servers);
    const modeEnv = {
      ...env.base,
      CACHE_NAMESPACE: `${env.base.CACHE_NAMESPACE}${mode}`,
      ...(mode === 'warm' || mode === 'refetch' ? { CACHE_WARMUP_USERS: String(users.length), CACHE_WARMUP_MAX_MS: '120000' } : {}),
      ...(cluster ? { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.addresses.join(',') } : {}),
    };
    const row = await withInstances([modeEnv, modeEnv, modeEnv], async (insts) => {
      if (mode === 'warm' || mode === 'refetch') for (const i of insts) await waitReady(i);
      const reads: number[] = [];
      const writes: number[] = [];
      const origins: Record<string, number> = {};
      const refetch: Record<string, number> = {};
      const readOnce = new Set<string>();
      let coldMisses = 0;
      let refetchCold = 0;
      let errors = 0;
      const read = async (u: (typeof users)[number], tally: Record<string, number>) => {
        const inst = insts[Math.floor(rand() * insts.length)]!;
        const t0 = performance.now();
        const r = await inst.api.get(LIST, u.token);
        if (r.status !== 200) errors++;
        const o = String(r.headers.get('x-cache'));
        tally[o] = (tally[o] ?? 0) + 1;
        if (o === 'MISS' && !readOnce.has(u.id)) {
          coldMisses++;
          if (tally === refetch) refetchCold++;
        }
        readOnce.add(u.id);
        reads.push(performance.now() - t0);
      };
      const end = performance.now() + seconds * 1000;
      const worker = async () => {
        while (performance.now() < end) {
          const u = users[zipf()]!;
          if (rand() < 1 / 21) {
            const inst = insts[Math.floor(rand() * insts.length)]!;
            const conv = u.convs[Math.floor(rand() * u.convs.length)]!;
            const t0 = performance.now();
            const r = await inst.api.post(`${LIST}/${conv}/messages`, u.token, { content: 'hi' });
            if (r.status !== 201) errors++;
            writes.push(performance.now() - t0);
            if (mode === 'refetch') {
              for (const id of membersOf.get(conv) ?? []) {
                const m = byId.get(id);
                if (m) await read(m, refetch);
              }
            }
          } else await read(u, origins);
          progress.update(`workload (${mode})`, Math.round(seconds * 1000 - (end - performance.now())), seconds * 1000);
        }
      };
      await Promise.all(Array.from({ length: Number(args.connections) }, worker));
      const stats = await Promise.all(insts.map((i) => i.stats()));
      const sum = (k: string) => stats.reduce((acc, x) => acc + Number(x?.[k] ?? 0), 0);
      const all: Record<string, number> = {};
      for (const t of [origins, refetch]) for (const [k, v] of Object.entries(t)) all[k] = (all[k] ?? 0) + v;
      const total = Object.values(all).reduce((x, y) => x + y, 0);
      const cached = (t: Record<string, number>) => (t['HIT-L1'] ?? 0) + (t['HIT-L2'] ?? 0);
      const n = (t: Record<string, number>) => Object.values(t).reduce((x, y) => x + y, 0);
      return {
        reads: total,
        writes: writes.length,
        errors,
        origins: all,
        coldMisses,
        withoutQuery: round(cached(all) / total),
        withoutQueryWarm: round(cached(all) / (total - coldMisses)),
        refetchReads: n(refetch),
        refetchWithoutQuery: n(refetch) > 0 ? round(cached(refetch) / n(refetch)) : undefined,
        refetchCold,
        refetchWithoutQueryWarm: n(refetch) > 0 ? round(cached(refetch) / (n(refetch) - refetchCold)) : undefined,
        read: summarize(reads),
        write: summarize(writes),
        memory: {
          pieceBytesPerInstance: Math.round(sum('memoryBytes') / insts.length - sum('pageBytes') / insts.length),
          pageBytesPerInstance: Math.round(sum('pageBytes') / insts.length),
          redisUsedMemoryGrowth: (await usedMemory(servers)) - redisBefore,
          redisValueBytesWritten: sum('l2BytesWritten'),
          redisValuesWritten: sum('l2ValuesWritten'),
        },
        unread: { refreshes: sum('unreadRefreshes'), exactCounts: sum('unreadExactCounts') },
        breakerOpens: sum('breakerOpens'),
      };
    }).finally(() => cluster?.stop());
    out[mode] = row;
    const o = row.origins;
    table.push(
      `| ${mode} | ${row.reads} | ${row.writes} | ${o['HIT-L1'] ?? 0} / ${o['HIT-L2'] ?? 0} / ${o.MISS ?? 0} (${row.coldMisses}) | **${row.withoutQuery}** | ${row.withoutQueryWarm} | ${row.refetchWithoutQuery === undefined ? '–' : `${row.refetchWithoutQuery} (${row.refetchWithoutQueryWarm} without its ${row.refetchCold} cold)`} | ${ms(row.read.p50)} / ${ms(row.read.p99)} | ${ms(row.write.p50)} / ${ms(row.write.p99)} | ${row.breakerOpens} | ${row.errors} |`,
    );
  }
  md.push(
    `### 4. Chat workload: ${users.length} users, Zipf(1) activity, 1 write per 20 reads, 3 instances, ${args.connections} concurrent clients, ${seconds} s per row`,
    '| row | reads | writes | HIT-L1 / HIT-L2 / MISS (of which cold) | reads without a database query | the same, cold misses excluded | refetch reads without a query | read p50 / p99 (ms) | write p50 / p99 (ms) | breaker openings | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...table,
    'zipf: empty cache at start, no warm-up (cold: a user’s first read). warm: after the start-up warm-up of every workload user. refetch: after the warm-up, each write followed by a read from every member of its conversation. cluster: zipf on a Redis Cluster of 3 masters. Goals: ≥ 0.97 without cold misses, ≥ 0.9 with them after the warm-up, ≥ 0.95 of refetch reads, no breaker opening while Redis is up.',
    '',
    '| row | pieces in L1 per instance (bytes) | composed pages in L1 per instance (bytes) | Redis used_memory growth (bytes) | bytes of values written to Redis (count) | unread: member-state refreshes / exact counts in SQL |',
    '|---|---|---|---|---|---|',
    ...modes.map((m) => {
      const r = out[m] as { memory: Record<string, number>; unread: Record<string, number> };
      return `| ${m} | ${r.memory.pieceBytesPerInstance} | ${r.memory.pageBytesPerInstance} | ${r.memory.redisUsedMemoryGrowth} | ${r.memory.redisValueBytesWritten} (${r.memory.redisValuesWritten}) | ${r.unread.refreshes} / ${r.unread.exactCounts} |`;
    }),
    '',
  );
  return out;
}

async function usedMemory(servers: readonly RedisServer[]): Promise<number> {
  let total = 0;
  for (const redis of servers) {
    const c = redis.client();
    try {
      total += Number(/used_memory:(\d+)/.exec(String(await c.info('memory')))?.[1] ?? NaN);
    } finally {
      c.disconnect();
    }
  }
  return total;
}

/** Until /ready answers 200 (the warm-up is done, or past its bound). */
async function waitReady(inst: GatewayProcess): Promise<void> {
  for (;;) {
    const r = await inst.api.get('/ready');
    if (r.status === 200) return;
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** 5. Time from a write's 2xx on A to B serving the new list. */
async function crossInstance(env: Env) {
  const hot = { id: env.data.hotUserId, username: env.data.hotUsername };
  const reader = env.data.sampleUsers[0]!;
  const writerToken = tokenFor(hot);
  const readerToken = tokenFor(reader);
  return withInstances([env.base, env.base], async ([a, b]) => {
    const conv = (await a!.api.post(LIST, writerToken, { type: 'group', title: 'xinst', memberIds: [reader.id] })).body.data.id;
    const delays: number[] = [];
    let freshOnFirstRead = 0;
    const N = 300;
    for (let i = 0; i < N; i++) {
      await b!.api.get(LIST, readerToken); // B holds the list before the write
      const posted = await a!.api.post(`${LIST}/${conv}/messages`, writerToken, { content: `x${i}` });
      const acked = performance.now();
      const id = posted.body.data.id;
      for (let attempt = 0; ; attempt++) {
        const r = await b!.api.get(LIST, readerToken);
        if (r.body.data[0]?.lastMessage?.id === id) {
          if (attempt === 0) freshOnFirstRead++;
          delays.push(performance.now() - acked);
          break;
        }
      }
    }
    const out = { n: N, freshOnFirstRead, delay: summarize(delays) };
    md.push(
      `### 5. Cross-instance: from a write's 2xx on A to B serving the new list (${N} writes; B had the old list cached)`,
      `p50 ${ms(out.delay.p50)} ms, p99 ${ms(out.delay.p99)} ms (one GET round trip included); the first read after the 2xx was already fresh ${freshOnFirstRead}/${N} times.`,
      '',
    );
    return out;
  });
}

/** The sections that run on a generated dataset (the push section makes a database of its own). */
const DATASET_SECTIONS = ['hit', 'scales', 'write', 'workload', 'xinst', 'outage'];

async function main() {
  const redis = await RedisServer.start();
  const scaleRows: Awaited<ReturnType<typeof l2AndMiss>>[] = [];
  const pushMd: string[] = [];
  try {
    for (const [i, scale] of (DATASET_SECTIONS.some((s) => only.has(s)) ? scales : []).entries()) {
      const db = await createBenchDatabase(`chatgate_bench_http_${scale}`, { max: 4 });
      try {
        const data = await generateDataset(db.db, {
          messages: scale,
          users: Math.max(10_000, scale / 20),
          sampleUsers: 300,
          onProgress: (p) => progress.update(`${scale} msgs: ${p.phase}`, p.done, p.total),
        });
        const env: Env = {
          db,
          redis,
          data,
          base: { DATABASE_URL: db.url, REDIS_URL: redis.url, JWT_SECRET: SECRET, CACHE_NAMESPACE: `cg${scale}` }, // a Redis of this run's own
        };
        if (only.has('scales')) {
          progress.update(`${scale} msgs: L2 and miss`, 0);
          scaleRows.push(await l2AndMiss(env, scale));
        }
        if (i === 0) {
          if (only.has('hit')) results.hit = await hitPath(env);
          if (only.has('write')) results.write = await writePath(env);
          if (only.has('workload')) results.workload = await workload(env);
          if (only.has('xinst')) results.crossInstance = await crossInstance(env);
          if (only.has('outage')) {
            const o = await outage(
              {
                base: env.base,
                start: startInstance,
                token: tokenFor,
                writer: { id: env.data.hotUserId, username: env.data.hotUsername },
                reader: env.data.sampleUsers[0]!,
                progress: (label, done, total) => progress.update(label, done, total),
              },
              Number(args['outage-seconds']),
            );
            results.outage = o.result;
            md.push(...o.md);
          }
        }
      } finally {
        await db.drop();
      }
    }
    if (only.has('push')) {
      const push = await pushBench({
        redis,
        progress,
        tokenFor,
        startInstance,
        jwtSecret: SECRET,
        idle: args['push-idle']!.split(',').map(Number),
      });
      results.push = push.results;
      pushMd.push(...push.md);
    }
  } finally {
    await redis.stop();
  }
  if (scaleRows.length > 0) {
    const first = scaleRows[0]!;
    const last = scaleRows[scaleRows.length - 1]!;
    results.scales = scaleRows;
    md.push(
      '### 2. L2 hit and miss path (hot user: 500 conversations, default page of 20; 1000 sequential requests each, ms)',
      '| messages | L2 hit p50 / p99, values deflated (default) | L2 hit p50 / p99, values raw | miss (database) p50 / p99 | gateway CPU µs per read: deflated / raw / miss | X-Cache seen |',
      '|---|---|---|---|---|---|',
      ...scaleRows.map(
        (r) =>
          `| ${r.scale.toLocaleString('en-US')} | ${ms(r.l2.p50)} / ${ms(r.l2.p99)} | ${ms(r.l2Raw.p50)} / ${ms(r.l2Raw.p99)} | ${ms(r.miss.p50)} / ${ms(r.miss.p99)} | ${r.cpuUsPerRead.l2} / ${r.cpuUsPerRead.l2Raw} / ${r.cpuUsPerRead.miss} | ${r.origins.map((o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ')).join(' · ')} |`,
      ),
      `Growth smallest → largest: L2 p50 ×${round(last.l2.p50 / first.l2.p50)}, miss p50 ×${round(last.miss.p50 / first.miss.p50)}.`,
      '',
    );
  }
  md.push(...pushMd);
  progress.done('done');
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/http.json', JSON.stringify(results, null, 2));
  const text = [`## npm run bench (${results.startedAt as string})`, '', ...md].join('\n');
  await writeFile('bench/results/http.md', text);
  process.stdout.write(`${text}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
