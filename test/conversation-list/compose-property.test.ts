import { describe, expect, it } from 'vitest';
import { Prng } from '../../support/prng.js';
import { RECENT_MESSAGES } from '../../src/conversation-list/state.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, mapLimit, postMessage, registerUsers } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { describeDifference, getList, ListComparer, VARIANTS } from './property/compare.js';
import { HistoryGenerator, type Write } from './property/history.js';
import { World, type WorldConversation } from './property/world.js';

/**
 * The composed conversation list (src/conversation-list) against the SQL list it must reproduce
 * byte for byte (src/store/conversation-list.ts), over random histories of every write of the
 * contract (property/history.ts). Two caching instances and one oracle with the cache off share one
 * PostgreSQL database and one Redis namespace. After each write, sent to a random caching instance,
 * every user the write touched and a few others read their list on both caching instances and the
 * oracle, in several query variants (property/compare.ts): same bytes, same ETag.
 *
 * PROPERTY_SEED=<n> runs that one seed (PROPERTY_WRITES=<n> sets the history's length).
 */

const SEEDS = process.env.PROPERTY_SEED ? [Number(process.env.PROPERTY_SEED)] : [101, 202, 303];
const WRITES = Number(process.env.PROPERTY_WRITES ?? 150);
/** Query variants beside the default page, per user and write. */
const VARIANTS_PER_READ = 3;
/** Users the write did not touch, read too (a write must not change them either). */
const BYSTANDERS = 2;
/**
 * The second caching instance keeps a few pieces and pages at most (4 KiB by default; the
 * PROPERTY_SECOND_L1_BYTES variable sets another budget, 0 the default one), so that it composes
 * mostly from pieces read back from Redis or loaded, and pushes pages out all the time, while the
 * first keeps everything in memory.
 */
const SECOND_L1_BYTES = process.env.PROPERTY_SECOND_L1_BYTES === '0' ? undefined : (process.env.PROPERTY_SECOND_L1_BYTES ?? '4096');

/** Two caching instances and the oracle; `secondEnv` configures the second caching instance only. */
async function startService(secondEnv: Record<string, string> = {}): Promise<{ cluster: Cluster; cached: Cluster['instances']; oracle: Cluster['instances'][number] }> {
  const cluster = await startCluster(1, SHARED_REDIS_URL);
  await cluster.addInstance({}, secondEnv);
  const oracle = await cluster.addInstance({}, { CACHE_ENABLED: 'false' });
  return { cluster, cached: cluster.instances.slice(0, 2), oracle };
}

/** Users whose list the write may have changed: every member, past or present, of what it touched. */
function touchedUsers(w: Write, before: readonly WorldConversation[], world: World, registered: string | undefined): Set<string> {
  const out = new Set<string>();
  if (w.actor) out.add(w.actor.id);
  if (registered) out.add(registered);
  if (w.tags.includes('profile')) for (const id of world.coMembers(w.actor!.id)) out.add(id);
  const known = new Set(before.map((c) => c.id));
  for (const c of [...before, ...world.conversations]) {
    if (c.id === w.conversationId || !known.has(c.id)) for (const m of c.members) out.add(m.userId);
  }
  return out;
}

async function runHistory(seed: number): Promise<void> {
  const { cluster, cached, oracle } = await startService(SECOND_L1_BYTES ? { CACHE_L1_MAX_BYTES: SECOND_L1_BYTES } : {});
  try {
    const world = new World(cluster.database.db);
    const root = new Prng(seed);
    // Separate streams: how lists are read never changes which writes the seed makes.
    const writeRng = root.fork();
    const routeRng = root.fork();
    const readRng = root.fork();
    const gen = new HistoryGenerator(world, writeRng, seed, WRITES);
    const reproduce = `reproduce: PROPERTY_SEED=${seed} PROPERTY_WRITES=${WRITES}${SECOND_L1_BYTES ? ` PROPERTY_SECOND_L1_BYTES=${SECOND_L1_BYTES}` : ''} npx vitest run test/conversation-list/compose-property.test.ts`;
    const comparer = new ListComparer(cached, oracle, reproduce);
    let lurkerUnread = 0;

    for (let i = 0; i < WRITES; i++) {
      const w = gen.next(i);
      const target = routeRng.int(0, cached.length - 1);
      const res = await cached[target]!.api.request(w.method, w.path, { token: w.actor?.token, body: w.body });
      if (!w.expect.includes(res.status)) {
        throw new Error(`seed ${seed}, write #${i} [${w.describe}] on cached #${target}: status ${res.status}, expected ${w.expect.join('|')}: ${res.text}\n${reproduce}`);
      }
      let registered: string | undefined;
      if (w.registers) {
        registered = res.body.data.user.id as string;
        world.users.push({ id: registered, username: w.registers, token: res.body.data.token });
      }
      const before = world.conversations;
      await world.reload();
      if (w.tags.includes('rejected') && JSON.stringify(world.conversations) !== JSON.stringify(before)) {
        throw new Error(`seed ${seed}, write #${i} [${w.describe}]: refused with ${res.status}, but it changed the database\n${reproduce}`);
      }
      gen.record(w);

      const touched = touchedUsers(w, before, world, registered);
      const bystanders = readRng.sample(world.users.filter((u) => !touched.has(u.id)), BYSTANDERS);
      const readers = [...[...touched].map((id) => world.user(id)), ...bystanders];
      const streams = readers.map(() => readRng.fork());
      const at = { seed, writeIndex: i, write: w.describe };
      await mapLimit(readers, 4, async (u, k) => {
        const body = await comparer.check(at, world, u, streams[k]!, VARIANTS_PER_READ);
        if (u.id === gen.lurker) {
          const hot = (JSON.parse(body.toString('utf8')) as { data: Array<{ id: string; unreadCount: number }> }).data.find((c) => c.id === gen.hot?.id);
          lurkerUnread = Math.max(lurkerUnread, hot?.unreadCount ?? 0);
        }
      });
    }

    const origins = Object.fromEntries(comparer.origins);
    console.log(`[compose-property] seed ${seed}: ${WRITES} writes, ${comparer.comparisons} cached reads equal to the oracle's; X-Cache ${JSON.stringify(origins)}; lurker's unread count reached ${lurkerUnread}`);
    // The history reached what it is for (a generator change must not quietly make it trivial).
    expect(gen.missing(), `seed ${seed}: write kinds the history never made`).toEqual([]);
    expect(lurkerUnread, `seed ${seed}: the lurker's unread count must pass the ${RECENT_MESSAGES} messages a conversation state keeps`).toBeGreaterThan(RECENT_MESSAGES);
    for (const v of VARIANTS) expect(comparer.variantsRun.get(v) ?? 0, `seed ${seed}: variant ${v} never read`).toBeGreaterThan(0);
  } finally {
    await cluster.teardown();
  }
}

describe('the composed list equals the SQL list byte for byte, over random histories of every write', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${WRITES} writes`, () => runHistory(seed), 240_000);
  }
});

describe('the refetch pattern', () => {
  it('after each message every member of its group reads their list: same bytes as the oracle, and no database query', async () => {
    const { cluster, cached, oracle } = await startService();
    try {
      const rng = new Prng(4242);
      const users = await registerUsers(cached[0]!.api, 26);
      // Three groups of ten; neighbouring groups share two members.
      const groups = [0, 8, 16].map((from) => users.slice(from, from + 10));
      const ids = [];
      for (const g of groups) ids.push((await createGroup(cached[rng.int(0, 1)]!.api, g[0]!, g.slice(1), 'Refetch')).id as string);

      const read = async (u: (typeof users)[number], where: string, tally?: Map<string, number>) => {
        const instance = rng.int(0, cached.length - 1);
        const [got, truth] = await Promise.all([getList(cached[instance]!, u.token, ''), getList(oracle, u.token, '')]);
        expect(truth.status).toBe(200);
        expect(got.status).toBe(200);
        if (!got.body.equals(truth.body)) {
          throw new Error(`refetch, ${where}, user ${u.id}, cached #${instance} (X-Cache ${got.xCache}): body differs from the oracle's\n${describeDifference(truth.body, got.body)}`);
        }
        expect(got.etag).toBe(truth.etag);
        tally?.set(got.xCache ?? 'none', (tally.get(got.xCache ?? 'none') ?? 0) + 1);
      };

      // The clients open the app: each member reads their list once (not counted).
      const opening = new Map<string, number>();
      await mapLimit(users, 4, (u) => read(u, 'opening', opening));

      const tally = new Map<string, number>();
      for (let m = 0; m < 30; m++) {
        const g = rng.int(0, groups.length - 1);
        await postMessage(cached[rng.int(0, 1)]!.api, groups[g]![rng.int(0, 9)]!, ids[g]!, `message ${m}`);
        await Promise.all(groups[g]!.map((u) => read(u, `after message ${m}`, tally)));
      }
      const reads = [...tally.values()].reduce((a, b) => a + b, 0);
      const hits = (tally.get('HIT-L1') ?? 0) + (tally.get('HIT-L2') ?? 0);
      console.log(`[compose-property] refetch: ${reads} reads after messages, X-Cache ${JSON.stringify(Object.fromEntries(tally))}, hit share ${(hits / reads).toFixed(3)}; opening reads ${JSON.stringify(Object.fromEntries(opening))}`);
      expect(reads).toBe(300);
      expect(hits / reads, `X-Cache of the reads after messages: ${JSON.stringify(Object.fromEntries(tally))}`).toBeGreaterThanOrEqual(0.95);
    } finally {
      await cluster.teardown();
    }
  }, 120_000);
});
