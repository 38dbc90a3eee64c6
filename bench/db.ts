/**
 * Miss-path benchmark of the conversation list on real PostgreSQL: `npm run bench:db [-- options]`.
 *
 * For each scale (number of messages; conversations = messages / 10, users = messages / 20, a hot user
 * in 500 conversations) it generates a dataset (bench/lib/dataset.ts) in a schema of its own, then warms
 * up and times `queryConversationList` (one round trip, what the route runs on a cache miss) for several
 * query variants, round-robin over all scales and variants so that they share the same background
 * noise (the growth ratio compares like with like). Prints a markdown table and
 * writes bench/results/db.{json,md} and, for the largest scale, EXPLAIN (ANALYZE, BUFFERS) of every
 * variant to bench/results/db-plan.txt.
 *
 * Options:
 *   --scales 100000,300000,1000000   message counts (default those three)
 *   --iterations N                   timed runs per variant and scale (default 350; 6 variants ≈ 2,100 per scale)
 *   --warmup N                       untimed runs per variant first (default 50)
 *   --database-url URL               use this database: datasets go to schemas chatgate_bench_<scale> (replaced
 *                                    if they exist, dropped at the end). Default: a fresh database
 *                                    chatgate_bench_db_<ts> on BENCH_PG_ADMIN_URL / TEST_PG_ADMIN_URL /
 *                                    postgres://postgres@127.0.0.1:5432, dropped at the end
 *   --keep                           keep the database / schemas (the URL is printed)
 *   --reuse                          with --database-url: time the datasets a --keep run left there (same scale
 *                                    and seed) instead of generating them again
 *   --dump-items FILE                write every variant's items per scale as JSON (to compare query changes)
 *   --out DIR                        results directory (default bench/results)
 *   --seed N                         dataset seed (default 1)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { migrate, type Db } from '../src/db/index.js';
import { createPostgresDb } from '../src/db/postgres.js';
import type { ListQuery } from '../src/model/model.js';
import { buildListQuery, queryConversationList } from '../src/store/conversation-list.js';
import { generateDataset, type Dataset } from './lib/dataset.js';
import { withSearchPath } from '../support/postgres.js';
import { createBenchDatabase, type BenchDatabase } from './lib/pg.js';
import { Progress } from './lib/progress.js';
import { round, summarize, timeMs, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    scales: { type: 'string', default: '100000,300000,1000000' },
    iterations: { type: 'string', default: '350' },
    warmup: { type: 'string', default: '50' },
    'database-url': { type: 'string' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    'dump-items': { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (args.help) {
  process.stdout.write('usage: npm run bench:db -- [--scales 100000,300000,1000000] [--iterations 350] [--warmup 50]\n' +
    '         [--database-url URL] [--keep] [--reuse] [--dump-items FILE] [--out DIR] [--seed N]\n');
  process.exit(0);
}

const scales = args.scales.split(',').map((s) => Number(s.trim().replaceAll('_', ''))).filter((n) => n > 0);
const iterations = Math.max(1, Number(args.iterations));
const warmup = Math.max(0, Number(args.warmup));
const seed = Number(args.seed);
if (scales.length === 0 || !scales.every(Number.isInteger)) throw new Error(`bad --scales: ${args.scales}`);
scales.sort((a, b) => a - b);

interface Variant {
  name: string;
  label: string;
  /** The user and query of run `i`. */
  query(i: number): { userId: string; q: ListQuery };
}

/** The query variants, for one dataset. `page2` is the cursor that the hot user's first page returned. */
function variants(d: Dataset, page2: ListQuery['before']): Variant[] {
  const hot = d.hotUserId;
  const base: ListQuery = { limit: 20, offset: 0 };
  return [
    { name: 'default', label: 'hot user, first page (limit 20)', query: () => ({ userId: hot, q: base }) },
    { name: 'offset100', label: 'hot user, offset 100', query: () => ({ userId: hot, q: { ...base, offset: 100 } }) },
    { name: 'cursor2', label: 'hot user, cursor page 2', query: () => ({ userId: hot, q: { ...base, before: page2 } }) },
    { name: 'typeGroup', label: 'hot user, type=group', query: () => ({ userId: hot, q: { ...base, type: 'group' } }) },
    {
      name: 'withUser',
      label: 'hot user, withUserId',
      query: () => ({ userId: hot, q: { ...base, withUserId: d.hotPeerUserId } }),
    },
    {
      name: 'avgUser',
      label: 'average user, first page',
      query: (i) => ({ userId: d.sampleUserIds[i % d.sampleUserIds.length]!, q: base }),
    },
  ];
}

interface ScaleResult {
  messages: number;
  conversations: number;
  users: number;
  memberships: number;
  generateSeconds: number;
  hotUserTotal: number;
  avgUserConversations: number;
  variants: Record<string, Summary & { label: string }>;
}

const fmtInt = (n: number) => new Intl.NumberFormat('en-US').format(n);
const fmtScale = (n: number) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n));
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

async function serverInfo(db: Db): Promise<{ version: string; settings: Record<string, string> }> {
  const v = (await db.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  const s = await db.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM unnest(ARRAY['shared_buffers', 'work_mem',
       'effective_cache_size', 'random_page_cost', 'jit', 'max_parallel_workers_per_gather']) AS name`,
  );
  return { version: v, settings: Object.fromEntries(s.rows.map((r) => [r.name, r.setting])) };
}

async function explain(db: Db, userId: string, q: ListQuery): Promise<string> {
  const { sql, params } = buildListQuery(userId, q);
  const r = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
  return r.rows.map((x) => x['QUERY PLAN']).join('\n');
}

interface ScaleCtx {
  scale: number;
  schema: string;
  db: Db;
  /** Timed queries go through a one-connection pool of their own: no pool queueing in the figures. */
  timing: Db;
  d: Dataset;
  vs: Variant[];
  hotUserTotal: number;
  avgUserConversations: number;
}

/** The dataset stored by an earlier run with --keep, if it has the same shape. */
async function storedDataset(db: Db, scale: number): Promise<Dataset | null> {
  try {
    const r = await db.query<{ info: Dataset & { seed: number } }>('SELECT info FROM bench_dataset');
    const info = r.rows[0]?.info;
    return info && info.counts.messages === scale && info.seed === seed ? info : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const command = `npm run bench:db${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  let fresh: BenchDatabase | undefined;
  if (!args['database-url']) {
    fresh = await createBenchDatabase('chatgate_bench_db', { migrate: false });
    process.stderr.write(`database ${fresh.name}\n`);
  }
  const target = args['database-url'] ?? fresh!.url;
  // Each scale lives in a schema of its own so that all of them can be timed interleaved: background
  // load (this machine is shared) then weighs on every scale alike and the growth ratio stays honest.
  const ctxs: ScaleCtx[] = [];
  const admin = fresh?.db ?? createPostgresDb({ connectionString: target, max: 1 });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of ctxs) {
      await c.timing.close().catch(() => {});
      await c.db.close().catch(() => {});
    }
    if (args.keep) {
      process.stderr.write(`kept: ${target} (schemas ${ctxs.map((c) => c.schema).join(', ')}; rerun with ` +
        `--database-url ${target} --reuse)\n`);
      await admin.close().catch(() => {});
    } else if (fresh) {
      await fresh.drop();
    } else {
      for (const c of ctxs) await admin.query(`DROP SCHEMA IF EXISTS ${c.schema} CASCADE`).catch(() => {});
      await admin.close().catch(() => {});
    }
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: ScaleResult[] = [];
  const dumps: Record<string, Record<string, string[]>> = {};
  let plans = '';
  const started = Date.now();
  const load0 = os.loadavg();
  try {
    const info = await serverInfo(admin);
    for (const scale of scales) {
      const schema = `chatgate_bench_${scale}`;
      const url = withSearchPath(target, schema);
      const db = createPostgresDb({ connectionString: url, max: 4, statementTimeoutMs: 600_000 });
      const timing = createPostgresDb({ connectionString: url, max: 1 });
      const progress = new Progress(`${fmtScale(scale)} messages`);
      let d = args.reuse ? await storedDataset(db, scale) : null;
      if (d) {
        progress.done(`reusing the dataset in schema ${schema}`);
      } else {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin.query(`CREATE SCHEMA ${schema}`);
        await migrate(db);
        d = await generateDataset(db, {
          messages: scale,
          conversations: Math.floor(scale / 10),
          hotUserConversations: 500,
          seed,
          onProgress: (p) => progress.update(p.phase, p.done, p.total),
        });
        await db.query('CREATE TABLE bench_dataset AS SELECT $1::jsonb AS info', [JSON.stringify({ ...d, seed })]);
        progress.done(
          `generated ${fmtInt(d.counts.users)} users, ${fmtInt(d.counts.conversations)} conversations, ` +
            `${fmtInt(d.counts.memberships)} memberships, ${fmtInt(d.counts.messages)} messages in ${(d.elapsedMs / 1000).toFixed(1)} s`,
        );
      }
      const first = await queryConversationList(timing, d.hotUserId, { limit: 20, offset: 0 });
      if (!first.last) throw new Error('the hot user has no second page');
      const avg = (
        await db.query<{ n: number }>(
          `SELECT avg(n)::float8 AS n FROM (SELECT count(*) AS n FROM conversation_members
           WHERE user_id = ANY($1::bigint[]) AND left_at IS NULL GROUP BY user_id) x`,
          [d.sampleUserIds],
        )
      ).rows[0]!.n;
      ctxs.push({ scale, schema, db, timing, d, vs: variants(d, first.last), hotUserTotal: first.total, avgUserConversations: avg });
    }

    for (const c of ctxs) {
      if (!args['dump-items']) break;
      const dump: Record<string, string[]> = {};
      for (const v of c.vs) {
        const n = v.name === 'avgUser' ? c.d.sampleUserIds.length : 1;
        for (let i = 0; i < n; i++) {
          const { userId, q } = v.query(i);
          const r = await queryConversationList(c.timing, userId, q);
          dump[n > 1 ? `${v.name}:${userId}` : v.name] = [
            JSON.stringify({ total: r.total, hasMore: r.hasMore, last: r.last }),
            ...r.items,
          ];
        }
      }
      dumps[String(c.scale)] = dump;
    }

    // Warm-up, then timed runs: round-robin over scales and variants.
    const progress = new Progress('timing');
    const samples = ctxs.map((c) => c.vs.map(() => [] as number[]));
    for (let i = 0; i < warmup + iterations; i++) {
      const warm = i < warmup;
      progress.update(warm ? 'warm-up' : 'timed runs', warm ? i + 1 : i - warmup + 1, warm ? warmup : iterations);
      for (const [ci, c] of ctxs.entries()) {
        for (const [vi, v] of c.vs.entries()) {
          const { userId, q } = v.query(i);
          const t = await timeMs(() => queryConversationList(c.timing, userId, q));
          if (!warm) samples[ci]![vi]!.push(t);
        }
      }
    }
    progress.done();

    for (const [ci, c] of ctxs.entries()) {
      const result: ScaleResult = {
        messages: c.scale,
        conversations: c.d.counts.conversations,
        users: c.d.counts.users,
        memberships: c.d.counts.memberships,
        generateSeconds: round(c.d.elapsedMs / 1000),
        hotUserTotal: c.hotUserTotal,
        avgUserConversations: round(c.avgUserConversations),
        variants: {},
      };
      for (const [vi, v] of c.vs.entries()) {
        const sm = summarize(samples[ci]![vi]!);
        result.variants[v.name] = {
          label: v.label,
          ...(Object.fromEntries(Object.entries(sm).map(([k, x]) => [k, round(x)])) as unknown as Summary),
        };
      }
      results.push(result);
    }

    const last = ctxs[ctxs.length - 1]!;
    const parts: string[] = [];
    for (const v of last.vs) {
      const { userId, q } = v.query(0);
      await queryConversationList(last.timing, userId, q); // warm, as in the timed runs
      parts.push(`### ${v.name}: ${v.label} — user ${userId}, query ${JSON.stringify(q)}\n${await explain(last.timing, userId, q)}`);
    }
    plans = parts.join('\n\n');

    const load1 = os.loadavg();
    const env = {
      date: new Date().toISOString(),
      command,
      postgres: info.version,
      settings: info.settings,
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      loadAverage1m: { start: round(load0[0]!), end: round(load1[0]!) },
      iterationsPerVariant: iterations,
      warmupPerVariant: warmup,
      totalSeconds: round((Date.now() - started) / 1000),
    };
    const smallest = results[0]!;
    const largest = results[results.length - 1]!;
    const growth = Object.fromEntries(
      Object.keys(largest.variants).map((k) => [k, round(largest.variants[k]!.p50 / smallest.variants[k]!.p50)]),
    );
    const md = renderMarkdown(results, growth, env);
    process.stdout.write(`\n${md}\n`);

    await mkdir(args.out, { recursive: true });
    await writeFile(`${args.out}/db.json`, `${JSON.stringify({ env, results, growthP50: growth }, null, 2)}\n`);
    await writeFile(`${args.out}/db.md`, md);
    await writeFile(
      `${args.out}/db-plan.txt`,
      `EXPLAIN (ANALYZE, BUFFERS) of the conversation list query (src/store/conversation-list.ts)\n` +
        `at ${fmtInt(largest.messages)} messages / ${fmtInt(largest.conversations)} conversations, hot user in 500 conversations,\n` +
        `PostgreSQL ${info.version}, ${env.date}. Generated by: ${command}\n\n${plans}\n`,
    );
    if (args['dump-items']) await writeFile(args['dump-items'], `${JSON.stringify(dumps, null, 1)}\n`);
    process.stderr.write(`wrote ${args.out}/db.json, ${args.out}/db.md, ${args.out}/db-plan.txt (${env.totalSeconds} s)\n`);
  } finally {
    await cleanup();
  }
}

function renderMarkdown(
  results: ScaleResult[],
  growth: Record<string, number>,
  env: { command: string; postgres: string; cpus: number; cpuModel: string; node: string; date: string;
         loadAverage1m: { start: number; end: number }; iterationsPerVariant: number; settings: Record<string, string> },
): string {
  const names = Object.keys(results[0]!.variants);
  const labels = names.map((n) => results[0]!.variants[n]!.label);
  const lines: string[] = [];
  lines.push(`Conversation list, miss path (no cache): \`queryConversationList\` on PostgreSQL ${env.postgres}, one round trip.`);
  lines.push(`Milliseconds, p50 / p99 over ${env.iterationsPerVariant} runs per cell. Command: \`${env.command}\``);
  lines.push('');
  lines.push(`| messages | conversations | users | memberships | ${labels.join(' | ')} |`);
  lines.push(`|---:|---:|---:|---:|${names.map(() => '---:').join('|')}|`);
  for (const r of results) {
    const cells = names.map((n) => `${ms(r.variants[n]!.p50)} / ${ms(r.variants[n]!.p99)}`);
    lines.push(
      `| ${fmtInt(r.messages)} | ${fmtInt(r.conversations)} | ${fmtInt(r.users)} | ${fmtInt(r.memberships)} | ${cells.join(' | ')} |`,
    );
  }
  lines.push('');
  const s = results[0]!;
  const l = results[results.length - 1]!;
  lines.push(
    `p50 growth ${fmtInt(s.messages)} → ${fmtInt(l.messages)} messages: ` +
      names.map((n) => `${n} ${growth[n]!.toFixed(2)}x`).join(', ') + '.',
  );
  lines.push('');
  lines.push(
    `Hot user: 500 conversations; average user: ${results.map((r) => r.avgUserConversations.toFixed(1)).join(' / ')} conversations ` +
      `(sample of 50 users). Dataset generation: ${results.map((r) => `${r.generateSeconds.toFixed(1)} s`).join(' / ')}.`,
  );
  lines.push(
    `Machine: ${env.cpus} × ${env.cpuModel}, Node ${env.node}, shared_buffers ${env.settings.shared_buffers ?? '?'}; ` +
      `load average ${env.loadAverage1m.start} → ${env.loadAverage1m.end}; ${env.date}.`,
  );
  return `${lines.join('\n')}\n`;
}

await main();
