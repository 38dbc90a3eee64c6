import type { Db, Queryable } from '../../src/db/index.js';

/**
 * Bulk dataset generator for benchmarks: users, conversations, memberships and messages written with
 * set-based SQL (`INSERT ... SELECT generate_series`, in chunks so that progress can be shown),
 * consistent with what the store's write paths maintain:
 *
 * - users: `users` regular users (default messages/20, at least 1,000) plus one "hot" user;
 * - conversations: ~55% direct (2 members, one per pair: `direct_key` set), ~42% groups (3–50 members,
 *   most of them small), ~3% public (10–50 members); creator = first member (`admin` in groups/public,
 *   everyone `member` in directs); ~3% of non-creator group/public memberships have left;
 * - messages: spread over conversations with a skew (the busiest 1% of conversations get ~20% of the
 *   messages; a few % of conversations have none); ids increase with `created_at` (one every
 *   span/messages, over `spanDays` up to `endAt`); senders are members; ~3% soft-deleted, ~2% edited;
 * - read markers: ~70% of memberships have read everything, ~25% are 1–50 live messages behind (mostly
 *   a few; where the conversation has fewer messages than that, nothing is read), ~5% have never read;
 * - `conversations.last_message_id/last_message_at` = newest live message, `member_count` = active
 *   members, every member's `sort_at` = coalesce(last_message_at, created_at), conversations created
 *   before their first message, members joined at creation;
 * - the hot user is an active member of exactly `hotUserConversations` conversations spread over all
 *   types and activity levels.
 *
 * Deterministic: the same options (and `seed`) give the same rows; random choices are hashes of row
 * numbers (hashint8extended), not random(). Ids continue after the tables' current maximum, so it can
 * run on a non-empty database (use another `usernamePrefix` there); `resetDataset` empties the tables.
 * Foreign-key triggers are skipped (session_replication_role = replica) when the role may do so: the
 * generator writes consistent rows by construction. Uses two UNLOGGED staging tables (bench_gen_*),
 * dropped at the end; see `rebuildIndexes` for the bulk-load mode.
 *
 *   const d = await generateDataset(db, { messages: 1_000_000, onProgress: (p) => progress.update(p.phase, p.done, p.total) });
 *   queryConversationList(db, d.hotUserId, { limit: 20, offset: 0 });   // 500 conversations
 *
 * Timing on the 2-vCPU bench VM: 100k messages ≈ 10 s, 1M ≈ 60-110 s (depending on load).
 */

export type DatasetPhase =
  | 'prepare'
  | 'users'
  | 'conversations'
  | 'messages'
  | 'indexes'
  | 'aggregates'
  | 'members'
  | 'vacuum';

export interface DatasetProgress {
  phase: DatasetPhase;
  done: number;
  total: number;
}

export interface DatasetOptions {
  messages: number;
  /** Default: messages / 10. Must be at least `hotUserConversations`. */
  conversations?: number;
  /** Regular users (the hot user comes on top). Default: max(1,000, messages / 20). */
  users?: number;
  /** Active memberships of the hot user. Default 500. */
  hotUserConversations?: number;
  /** Default 1. */
  seed?: number;
  /** Time of the newest message. Default: the start of yesterday (UTC). */
  endAt?: Date;
  /** Messages are spread evenly over this many days before `endAt`. Default 365. */
  spanDays?: number;
  /** Usernames are `<prefix>_<n>` and `<prefix>_hot`. Default 'bench'. */
  usernamePrefix?: string;
  /** Stored for every user. Default: a constant that no password verifies against; pass a real hash to log in. */
  passwordHash?: string;
  /** How many other (regular) user ids to return. Default 50. */
  sampleUsers?: number;
  /** Messages per INSERT (default 50,000); users/conversations/memberships use proportional chunks. */
  chunkSize?: number;
  /** Statements run at once (separate transactions on the pool's connections). Default 2. */
  concurrency?: number;
  /**
   * Bulk-load like pg_restore: drop the secondary (non-constraint) indexes of `messages` and
   * `conversation_members` while their rows are inserted and build them afterwards (several times faster
   * than maintaining them row by row). 'auto' (default): only when both tables are empty.
   */
  rebuildIndexes?: boolean | 'auto';
  /** VACUUM ANALYZE the tables at the end (default true). */
  vacuum?: boolean;
  onProgress?: (p: DatasetProgress) => void;
}

export interface DatasetUser {
  id: string;
  username: string;
}

export interface Dataset {
  /** Active member of exactly `hotUserConversations` conversations. */
  hotUserId: string;
  hotUsername: string;
  /** The other member of one of the hot user's direct conversations (for `withUserId`). */
  hotPeerUserId: string;
  /** Regular users picked uniformly (deterministically) from the generated ones. */
  sampleUserIds: string[];
  sampleUsers: DatasetUser[];
  counts: { users: number; conversations: number; memberships: number; messages: number; hotUserConversations: number };
  /** Inclusive id ranges of the generated rows. */
  ids: { users: [string, string]; conversations: [string, string]; messages: [string, string] };
  elapsedMs: number;
}

const DEFAULT_PASSWORD_HASH = 'bench$no-login';
const DAY_MS = 86_400_000;
const NAMES = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'Donald'];
const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore ' +
  'magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo ' +
  'consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.';

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A multiplier coprime with `n`, so that x -> x * p mod n permutes 0..n-1 (spreads busy conversations over ids). */
function permutationMultiplier(n: number): number {
  for (const p of [1_000_003, 999_983, 999_979, 7_919, 104_729]) if (gcd(p, n) === 1) return p;
  for (let p = 1_000_033; ; p += 2) if (gcd(p, n) === 1) return p;
}

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** Empties the tables the generator writes (and the invalidation outbox), restarting the ids. */
export async function resetDataset(db: Queryable): Promise<void> {
  await db.query(
    'TRUNCATE conversation_members, messages, conversations, users, cache_invalidations RESTART IDENTITY CASCADE',
  );
}

export async function generateDataset(db: Db, opts: DatasetOptions): Promise<Dataset> {
  const t0 = Date.now();
  const M = Math.floor(opts.messages);
  const C = Math.floor(opts.conversations ?? M / 10);
  const U = Math.floor(opts.users ?? Math.max(1_000, M / 20));
  const HOT = Math.floor(opts.hotUserConversations ?? 500);
  const seed = Math.floor(opts.seed ?? 1);
  const prefix = opts.usernamePrefix ?? 'bench';
  const chunk = Math.max(1_000, Math.floor(opts.chunkSize ?? 50_000));
  const spanMs = Math.floor((opts.spanDays ?? 365) * DAY_MS);
  const endMs = opts.endAt?.getTime() ?? Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
  if (!(M >= 1 && C >= 1)) throw new Error('messages and conversations must be positive');
  if (U < 100) throw new Error('at least 100 users are needed (groups have up to 50 distinct members)');
  if (HOT > C) throw new Error(`hotUserConversations (${HOT}) exceeds conversations (${C})`);
  if (!/^[a-z0-9_.-]{1,20}$/.test(prefix)) throw new Error('usernamePrefix: 1-20 of a-z 0-9 _ . -');
  const msPer = Math.max(1, Math.floor(spanMs / M));
  const startMs = endMs - msPer * M;
  const start = `'${new Date(startMs).toISOString()}'::timestamptz`;
  const P = permutationMultiplier(C);
  const report = (phase: DatasetPhase, done: number, total: number) => opts.onProgress?.({ phase, done, total });

  /** Uniform [0, 1) from a bigint expression, deterministic per (seed, salt). */
  const rnd = (expr: string, salt: number) =>
    `((hashint8extended((${expr})::bigint, ${seed * 1_009 + salt}::bigint) & 2147483647)::float8 / 2147483648.0)`;

  // Can foreign-key triggers be skipped? (superuser or equivalent; otherwise they simply run.)
  let replica = true;
  try {
    await db.transaction((tx) => tx.query('SET LOCAL session_replication_role = replica'));
  } catch {
    replica = false;
  }
  const debug = process.env.BENCH_DATASET_DEBUG;
  /** One statement in a transaction of its own, tuned for bulk writes. */
  const run = (sql: string) =>
    db.transaction(async (tx) => {
      const t = Date.now();
      await tx.query('SET LOCAL synchronous_commit = off');
      await tx.query("SET LOCAL work_mem = '256MB'");
      await tx.query("SET LOCAL maintenance_work_mem = '256MB'");
      await tx.query('SET LOCAL jit = off'); // the big INSERT ... SELECTs look expensive enough to JIT; it costs seconds
      if (replica) await tx.query('SET LOCAL session_replication_role = replica');
      const r = await tx.query(sql);
      if (debug) process.stderr.write(`\n${Date.now() - t} ms: ${debug === 'sql' ? sql : sql.replace(/\s+/g, ' ').slice(0, 90)}\n`);
      return r;
    });
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 2));
  /** Runs `statement(lo, hi)` over 1..total in chunks, `concurrency` at a time, reporting progress. */
  const chunked = async (phase: DatasetPhase, total: number, size: number, statement: (lo: number, hi: number) => string) => {
    let next = 1;
    let done = 0;
    report(phase, 0, total);
    const worker = async () => {
      while (next <= total) {
        const lo = next;
        const hi = Math.min(total, lo + size - 1);
        next = hi + 1;
        await run(statement(lo, hi));
        done += hi - lo + 1;
        report(phase, done, total);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };

  /** Secondary indexes of `table` that no constraint owns, with their definitions. */
  const secondaryIndexes = async (table: string) =>
    (
      await db.query<{ name: string; def: string }>(
        `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i WHERE i.indrelid = $1::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
         ORDER BY 1`,
        [table],
      )
    ).rows;
  const dropped: { name: string; def: string }[] = [];
  const dropIndexes = async (table: string) => {
    for (const ix of await secondaryIndexes(table)) {
      dropped.push(ix);
      await db.query(`DROP INDEX ${ix.name}`);
    }
  };
  /** Rebuilds what dropIndexes dropped, `concurrency` at a time. */
  const restoreIndexes = async () => {
    const todo = dropped.splice(0);
    let n = 0;
    report('indexes', 0, todo.length);
    const worker = async () => {
      for (let ix = todo.shift(); ix; ix = todo.shift()) {
        await run(ix.def);
        report('indexes', ++n, n + todo.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };

  report('prepare', 0, 0);
  const base = (
    await db.query<{ u: string; c: string; m: string }>(
      `SELECT (SELECT coalesce(max(id), 0) FROM users)::text AS u,
              (SELECT coalesce(max(id), 0) FROM conversations)::text AS c,
              (SELECT coalesce(max(id), 0) FROM messages)::text AS m`,
    )
  ).rows[0]!;
  const baseU = Number(base.u);
  const baseC = Number(base.c);
  const baseM = Number(base.m);
  const empty = (
    await db.query<{ empty: boolean }>(
      'SELECT NOT EXISTS (SELECT 1 FROM messages) AND NOT EXISTS (SELECT 1 FROM conversation_members) AS empty',
    )
  ).rows[0]!.empty;
  const rebuild = opts.rebuildIndexes === undefined || opts.rebuildIndexes === 'auto' ? empty : opts.rebuildIndexes;
  const H = baseU + U + 1; // the hot user's id
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const S = `bench_gen_conv_${tag}`; // staging: one row per conversation, its shape
  const F = `bench_gen_final_${tag}`; // staging: the same with what the message writes determine
  /** A member's user id: members of conversation i are (a + k*s) mod U, k = 0..n-1 (distinct: 49*s < U); the hot user replaces the last. */
  const memberId = (k: string) => `CASE WHEN S.hot AND ${k} = S.n - 1 THEN ${H} ELSE ${baseU + 1} + (S.a + ${k} * S.s) % ${U} END`;
  const hasLeft = (k: string) =>
    `(S.type <> 'direct' AND ${k} > 0 AND NOT (S.hot AND ${k} = S.n - 1) AND ${rnd(`S.i * 64 + ${k}`, 6)} < 0.03)`;
  const insertConversations = (from: string, lo: number, hi: number) => `
    INSERT INTO conversations (id, type, title, avatar, direct_key, created_by, member_count,
                               last_message_id, last_message_at, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    SELECT S.id, S.type,
      CASE S.type WHEN 'group' THEN 'Group ' || S.i WHEN 'public' THEN 'Public ' || S.i END,
      CASE WHEN S.type <> 'direct' AND ${rnd('S.i', 14)} < 0.2 THEN 'https://img.example/c/' || S.i || '.png' END,
      S.dkey, ${baseU + 1} + S.a, S.mc, S.last_id, S.last_at, S.created_at, S.created_at
    FROM ${from} S WHERE S.i BETWEEN ${lo} AND ${hi}`;

  try {
    // ---- staging: every conversation's shape, decided up front --------------------------------------
    await run(`CREATE UNLOGGED TABLE ${S} AS
      SELECT i, ${baseC} + i AS id, t.type,
        CASE t.type WHEN 'direct' THEN 2
                    WHEN 'group' THEN 3 + floor(47 * ${rnd('i', 2)} ^ 3)::int
                    ELSE 10 + floor(41 * ${rnd('i', 2)})::int END AS n,
        floor(${U} * ${rnd('i', 3)})::bigint AS a,
        1 + floor(${Math.floor(U / 50) - 1} * ${rnd('i', 4)})::bigint AS s,
        false AS hot, NULL::text AS dkey,
        ${start} - interval '30 days' + (${spanMs + 30 * DAY_MS} * ${rnd('i', 5)}) * interval '1 ms' AS created_at,
        0 AS mc, NULL::bigint AS last_id, NULL::timestamptz AS last_at
      FROM generate_series(1, ${C}) i,
        LATERAL (SELECT CASE WHEN ${rnd('i', 1)} < 0.55 THEN 'direct' WHEN ${rnd('i', 1)} < 0.97 THEN 'group' ELSE 'public' END AS type) t`);
    await run(`ALTER TABLE ${S} ADD PRIMARY KEY (i)`);
    await run(`UPDATE ${S} SET hot = true WHERE i IN (SELECT 1 + (j * ${C}::bigint) / ${HOT} FROM generate_series(0, ${HOT - 1}) j)`);
    // One direct conversation per pair: later duplicates of a pair become 3-member groups.
    await run(`UPDATE ${S} S SET dkey = least(x.m0, x.m1) || ':' || greatest(x.m0, x.m1)
      FROM (SELECT i, ${memberId('0')} AS m0, ${memberId('1')} AS m1 FROM ${S} S WHERE type = 'direct') x
      WHERE S.i = x.i`);
    await run(`UPDATE ${S} S SET type = 'group', n = 3, dkey = NULL
      FROM (SELECT i, row_number() OVER (PARTITION BY dkey ORDER BY i) AS rn FROM ${S} WHERE type = 'direct') d
      WHERE S.i = d.i AND d.rn > 1`);
    await run(`ANALYZE ${S}`);

    // ---- users -------------------------------------------------------------------------------------
    await chunked('users', U + 1, chunk * 2, (lo, hi) => `
      INSERT INTO users (id, username, password_hash, display_name, avatar, created_at, updated_at) OVERRIDING SYSTEM VALUE
      SELECT ${baseU} + i,
        CASE WHEN i = ${U + 1} THEN ${sqlString(`${prefix}_hot`)} ELSE ${sqlString(`${prefix}_`)} || i END,
        ${sqlString(opts.passwordHash ?? DEFAULT_PASSWORD_HASH)},
        CASE WHEN i = ${U + 1} THEN 'Hot User'
             ELSE (ARRAY[${NAMES.map(sqlString).join(',')}])[1 + floor(${NAMES.length} * ${rnd('i', 20)})::int] || ' ' || i END,
        CASE WHEN ${rnd('i', 21)} < 0.3 THEN 'https://avatars.example/u/' || i || '.png' END,
        t, t
      FROM generate_series(${lo}, ${hi}) i,
        LATERAL (SELECT ${start} - interval '60 days' + (${29 * DAY_MS} * ${rnd('i', 22)}) * interval '1 ms' AS t) x`);

    // Without the right to skip foreign-key checks, conversations must exist before their messages:
    // insert them now and fix up what the messages determine afterwards (slower).
    if (!replica) await chunked('conversations', C, chunk, (lo, hi) => insertConversations(S, lo, hi));

    // ---- messages ----------------------------------------------------------------------------------
    if (rebuild) await dropIndexes('messages');
    // Conversation of message g: position floor(C * r^3) (skewed towards 0), permuted over the ids.
    await chunked('messages', M, chunk, (lo, hi) => `
      INSERT INTO messages (id, conversation_id, sender_id, content, created_at, edited_at, deleted_at)
      OVERRIDING SYSTEM VALUE
      SELECT ${baseM} + g, S.id, ${memberId('x.k')},
        substr(${sqlString(LOREM)}, 1 + floor(60 * ${rnd('g', 11)})::int, 4 + floor(160 * ${rnd('g', 12)} ^ 2)::int),
        x.t,
        CASE WHEN ${rnd('g', 10)} < 0.02 THEN x.t + interval '30 seconds' END,
        CASE WHEN ${rnd('g', 9)} < 0.03 THEN x.t + interval '1 minute' END
      FROM generate_series(${lo}, ${hi}) g
      CROSS JOIN LATERAL (SELECT (floor(${C} * ${rnd('g', 7)} ^ 3)::bigint * ${P}) % ${C} + 1 AS ci,
                                 ${start} + (g::bigint * ${msPer}) * interval '1 ms' AS t) p
      JOIN ${S} S ON S.i = p.ci
      CROSS JOIN LATERAL (SELECT p.t, floor(S.n * ${rnd('g', 8)})::int AS k) x`);

    if (rebuild) await restoreIndexes();

    // ---- what insertMessage / softDeleteMessage / addMembers maintain --------------------------------
    // last message = newest live one; ids grow with created_at, so its time is the newest live created_at.
    report('aggregates', 0, 3);
    await run(`CREATE UNLOGGED TABLE ${F} AS
      SELECT S.i, S.id, S.type, S.n, S.a, S.s, S.hot, S.dkey,
        CASE WHEN a.first_at IS NULL THEN S.created_at
          ELSE least(S.created_at, a.first_at - interval '1 minute' - floor(${DAY_MS} * ${rnd('S.i', 13)}) * interval '1 ms')
        END AS created_at,
        (SELECT count(*) FROM generate_series(0, S.n - 1) k WHERE NOT ${hasLeft('k')})::int AS mc,
        a.last_id, a.last_at, a.max_id
      FROM ${S} S LEFT JOIN (
        SELECT conversation_id, max(id) FILTER (WHERE deleted_at IS NULL) AS last_id,
               max(created_at) FILTER (WHERE deleted_at IS NULL) AS last_at,
               max(id) AS max_id, min(created_at) AS first_at
        FROM messages WHERE conversation_id BETWEEN ${baseC + 1} AND ${baseC + C} GROUP BY conversation_id) a
      ON a.conversation_id = S.id`);
    await run(`ALTER TABLE ${F} ADD PRIMARY KEY (i)`);
    await run(`ANALYZE ${F}`);
    report('aggregates', 1, 3);
    if (replica) {
      await chunked('conversations', C, chunk, (lo, hi) => insertConversations(F, lo, hi));
    } else {
      await run(`UPDATE conversations c SET last_message_id = S.last_id, last_message_at = S.last_at, member_count = S.mc,
          created_at = S.created_at, updated_at = S.created_at
        FROM ${F} S WHERE c.id = S.id`);
    }
    report('aggregates', 2, 3);
    // Visibility map set: the read-marker lookups below are index-only scans.
    await db.query('VACUUM (ANALYZE) messages');
    report('aggregates', 3, 3);

    // ---- memberships -------------------------------------------------------------------------------
    if (rebuild) await dropIndexes('conversation_members');
    // Read markers: ~5% never read, ~25% 1-50 live messages behind (skewed to few), the rest read everything.
    await chunked('members', C, Math.max(500, Math.floor(chunk / 10)), (lo, hi) => `
      INSERT INTO conversation_members
        (conversation_id, user_id, role, joined_at, left_at, last_read_message_id, sort_at)
      SELECT S.id, mm.uid,
        CASE WHEN S.type <> 'direct' AND k = 0 THEN 'admin' ELSE 'member' END,
        S.created_at + k * interval '1 ms',
        CASE WHEN mm.gone THEN coalesce(S.last_at, S.created_at) + interval '1 hour' END,
        CASE WHEN mm.r < 0.05 THEN 0
             WHEN mm.r < 0.30 THEN coalesce((
               SELECT m.id FROM messages m WHERE m.conversation_id = S.id AND m.deleted_at IS NULL
               ORDER BY m.id DESC OFFSET floor(1 + 50 * ${rnd('S.i * 64 + k', 15)} ^ 2)::int LIMIT 1), 0)
             ELSE coalesce(S.max_id, 0) END,
        coalesce(S.last_at, S.created_at)
      FROM ${F} S
      CROSS JOIN LATERAL generate_series(0, S.n - 1) k
      CROSS JOIN LATERAL (SELECT ${memberId('k')} AS uid, ${hasLeft('k')} AS gone, ${rnd('S.i * 64 + k', 16)} AS r) mm
      WHERE S.i BETWEEN ${lo} AND ${hi}`);

    if (rebuild) await restoreIndexes();

    for (const t of ['users', 'conversations', 'messages']) {
      await db.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);
    }
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${S}, ${F}`);
    for (const ix of dropped.splice(0)) await db.query(ix.def).catch(() => {}); // after a failure: put them back
  }

  if (opts.vacuum ?? true) {
    const tables = ['users', 'conversations', 'conversation_members', 'messages'];
    for (const [i, t] of tables.entries()) {
      report('vacuum', i, tables.length);
      await db.query(`VACUUM (ANALYZE) ${t}`);
    }
    report('vacuum', tables.length, tables.length);
  }

  const sampleN = Math.max(0, Math.floor(opts.sampleUsers ?? 50));
  const info = (
    await db.query<{ peer: string | null; members: number; hot: number; sample: string[] | null }>(
      `SELECT
         (SELECT o.user_id::text FROM conversation_members h
            JOIN conversations c ON c.id = h.conversation_id AND c.type = 'direct'
            JOIN conversation_members o ON o.conversation_id = h.conversation_id AND o.user_id <> h.user_id
          WHERE h.user_id = ${H} AND h.left_at IS NULL ORDER BY c.id LIMIT 1) AS peer,
         (SELECT count(*)::int FROM conversation_members WHERE conversation_id BETWEEN ${baseC + 1} AND ${baseC + C}) AS members,
         (SELECT count(*)::int FROM conversation_members WHERE user_id = ${H} AND left_at IS NULL) AS hot,
         (SELECT array_agg(u::text ORDER BY j) FROM (
            SELECT DISTINCT ON (u) j, u FROM (
              SELECT j, ${baseU + 1} + floor(${U} * ${rnd('j', 30)})::bigint AS u FROM generate_series(1, ${sampleN * 2}) j) x
            ORDER BY u, j) y) AS sample`,
    )
  ).rows[0]!;
  if (info.hot !== HOT) throw new Error(`hot user has ${info.hot} conversations, expected ${HOT}`);
  const sampleIds = (info.sample ?? []).slice(0, sampleN).sort((a, b) => Number(a) - Number(b));
  return {
    hotUserId: String(H),
    hotUsername: `${prefix}_hot`,
    hotPeerUserId: info.peer ?? String(baseU + 1),
    sampleUserIds: sampleIds,
    sampleUsers: sampleIds.map((id) => ({ id, username: `${prefix}_${Number(id) - baseU}` })),
    counts: { users: U + 1, conversations: C, memberships: info.members, messages: M, hotUserConversations: HOT },
    ids: {
      users: [String(baseU + 1), String(H)],
      conversations: [String(baseC + 1), String(baseC + C)],
      messages: [String(baseM + 1), String(baseM + M)],
    },
    elapsedMs: Date.now() - t0,
  };
}
