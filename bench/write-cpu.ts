/**
 * Where the CPU of a POST message goes, by process and by thread: the writing gateway (A), the other
 * gateway (B, holding both members' lists), Redis — cache off and cache on (two instances, one Redis),
 * side by side in one run, configurations taking turns every BLOCK posts. What `npm run bench -- --only
 * write` reports as a total, split so that a change can be aimed: A's main thread, A's V8 helper
 * threads (garbage collection, compilation), B, Redis, and user vs kernel time.
 *
 *   npm run bench:write-cpu -- [--posts 1500] [--members 2] [--profile DIR]
 *
 * --profile writes V8 CPU profiles of A and B (DIR/on-a, DIR/on-b, ...) and prints the monotonic-clock
 * window of the timed posts, to cut the profiles to it.
 */
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDatabase } from '../support/postgres.js';
import { RedisServer } from '../support/redis.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { cpuTimesMs } from './lib/stats.js';

const { values: args } = parseArgs({ options: { posts: { type: 'string', default: '1500' }, members: { type: 'string', default: '2' }, profile: { type: 'string' } } });
const N = Number(args.posts);
const MEMBERS = Number(args.members);
const BLOCK = 50;
const LIST = '/api/v1/conversations';

/** CPU ms (user, system) of each thread of a process, by thread id. */
function threads(pid: number | undefined): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  if (pid === undefined) return out;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const times = cpuTimesMs(`/proc/${pid}/task/${t}/stat`); // undefined: the thread ended
    if (times !== undefined) out.set(t, times);
  }
  return out;
}

interface Sample {
  main: [number, number];
  helpers: number;
}

/** The main thread (its id is the pid) apart from the others. */
function sample(pid: number | undefined): Sample {
  const all = threads(pid);
  const main = all.get(String(pid)) ?? [0, 0];
  let helpers = 0;
  for (const [id, [u, s]] of all) if (id !== String(pid)) helpers += u + s;
  return { main, helpers };
}

const db = await createDatabase({ prefix: 'writecpu' });
const redis = await RedisServer.start();
const base = { DATABASE_URL: db.url, JWT_SECRET: 'w'.repeat(40), CACHE_NAMESPACE: `wc${Date.now()}` };
const configs = [
  { key: 'off', env: { ...base, CACHE_ENABLED: 'false', REDIS_URL: '' } },
  { key: 'on', env: { ...base, REDIS_URL: redis.url } },
];
const started: Array<{ key: string; a: GatewayProcess; b: GatewayProcess }> = [];
try {
  for (const c of configs) {
    const execArgv = (who: string) => (args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}/${c.key}-${who}`] : []);
    started.push({ key: c.key, a: await startGatewayProcess(c.env, { execArgv: execArgv('a') }), b: await startGatewayProcess(c.env, { execArgv: execArgv('b') }) });
  }
  const api = started[0]!.a.api;
  const register = async (name: string) => {
    const r = await api.post(`/api/v1/auth/register`, undefined, { username: `${name}${Date.now() % 1e6}`, password: 'password123' });
    if (r.status !== 201) throw new Error(`register: ${r.status}`);
    return (r.body.data ?? r.body) as { token: string; user: { id: string } };
  };
  const alice = await register('alice');
  const others = [];
  for (let i = 1; i < MEMBERS; i++) others.push(await register(`m${i}x`));
  const conv = (
    MEMBERS === 2
      ? await api.post(LIST, alice.token, { type: 'direct', memberIds: [others[0]!.user.id] })
      : await api.post(LIST, alice.token, { type: 'group', title: `Bench ${MEMBERS}`, memberIds: others.map((o) => o.user.id) })
  ).body.data.id as string;
  const post = async (g: GatewayProcess, i: number) => {
    const r = await g.api.post(`${LIST}/${conv}/messages`, alice.token, { content: `bench message ${i}` });
    if (r.status !== 201) throw new Error(`POST message: ${r.status}`);
  };
  for (const s of started) {
    for (let i = 0; i < 100; i++) await post(s.a, i); // warm-up (JIT)
    for (const u of [alice, ...others]) await s.b.api.get(LIST, u.token); // B holds every member's list
  }
  interface Acc {
    aMain: number[];
    aHelpers: number;
    bMain: number[];
    bHelpers: number;
    redis: number[];
    lat: number[];
  }
  const sum = new Map<string, Acc>(started.map((s) => [s.key, { aMain: [0, 0], aHelpers: 0, bMain: [0, 0], bHelpers: 0, redis: [0, 0], lat: [] }]));
  const h0 = process.hrtime.bigint() / 1000n;
  for (let blk = 0; blk < N / BLOCK; blk++) {
    for (let k = 0; k < started.length; k++) {
      const s = started[(blk + k) % started.length]!;
      const acc = sum.get(s.key)!;
      const [a0, b0, r0] = [sample(s.a.pid), sample(s.b.pid), sample(s.key === 'on' ? redis.pid : undefined)];
      for (let i = 0; i < BLOCK; i++) {
        const t = performance.now();
        await post(s.a, blk * BLOCK + i);
        acc.lat.push(performance.now() - t);
      }
      const [a1, b1, r1] = [sample(s.a.pid), sample(s.b.pid), sample(s.key === 'on' ? redis.pid : undefined)];
      for (const j of [0, 1]) {
        acc.aMain[j]! += a1.main[j]! - a0.main[j]!;
        acc.bMain[j]! += b1.main[j]! - b0.main[j]!;
        acc.redis[j]! += r1.main[j]! - r0.main[j]! + (j === 0 ? r1.helpers - r0.helpers : 0);
      }
      acc.aHelpers += a1.helpers - a0.helpers;
      acc.bHelpers += b1.helpers - b0.helpers;
    }
  }
  const window = `${h0} ${process.hrtime.bigint() / 1000n}`;
  const per = (x: number) => (x / N).toFixed(3);
  const total = (v: Acc) => v.aMain[0]! + v.aMain[1]! + v.aHelpers + v.bMain[0]! + v.bMain[1]! + v.bHelpers + v.redis[0]! + v.redis[1]!;
  const off = total(sum.get('off')!);
  console.log(`## CPU ms per POST message, ${MEMBERS} members (${N} posts per configuration, taking turns every ${BLOCK}; /proc, 10 ms ticks)`);
  console.log('| configuration | p50 ms | A main user / sys | A helper threads | B main user / sys | B helper threads | Redis user / sys | total | ratio to off |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [key, v] of sum) {
    const lat = [...v.lat].sort((x, y) => x - y);
    console.log(
      `| ${key} | ${lat[lat.length >> 1]!.toFixed(3)} | ${per(v.aMain[0]!)} / ${per(v.aMain[1]!)} | ${per(v.aHelpers)} | ${per(v.bMain[0]!)} / ${per(v.bMain[1]!)} | ${per(v.bHelpers)} | ${per(v.redis[0]!)} / ${per(v.redis[1]!)} | ${per(total(v))} | ${(total(v) / off).toFixed(3)} |`,
    );
  }
  if (args.profile) console.log(`profile window (µs, monotonic): ${window}`);
} finally {
  for (const s of started) {
    await s.a.stop();
    await s.b.stop();
  }
  await redis.stop();
  await db.drop();
}
