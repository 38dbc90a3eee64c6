import type { Queryable } from '../db/index.js';
import type { ListCursor, ListQuery } from '../model/model.js';

/**
 * The conversation list: one statement, one round trip, whatever the page size.
 *
 * Each row's `item` is the finished `ConversationListItem` JSON, built by PostgreSQL, so the
 * miss path does no object building or re-serialisation in JavaScript: the route (or the cache)
 * concatenates the rows into the response body.
 *
 * Why it is fast. Plan observed on PostgreSQL 15 at 1M messages / 100k conversations / 800k memberships,
 * hot user in 500 conversations, first page of 20 (`npm run bench:db`; full EXPLAIN (ANALYZE, BUFFERS)
 * of every variant in bench/results/db-plan.txt), abridged:
 *
 *   Sort (21 rows: the page, back in list order)                        Buffers: shared hit≈600
 *     CTE p
 *       -> Limit -> Index Scan using conversation_members_list_idx on conversation_members cm   rows=21
 *            Index Cond: (user_id = $1)        [cursor: AND ROW(sort_at, conversation_id) < ROW($c1, $c2)]
 *            -- partial index (left_at IS NULL) already in (sort_at DESC, conversation_id DESC) order:
 *            -- no sort of the membership, the scan stops after offset+limit+1 rows
 *     -> Append
 *       InitPlan (total)
 *         -> Aggregate -> Index Only Scan using conversation_members_list_idx   rows=500  Heap Fetches: 0
 *       -> Nested Loop                                                                      rows=21
 *            -> CTE Scan on p
 *            -> Index Scan using conversations_pkey on conversations c         (1 row per page row)
 *            SubPlan (direct title)  Index Scan using conversation_members_pkey (cid) + users_pkey
 *            SubPlan (members)       Limit 5 -> Index Scan using conversation_members_preview_idx (cid)
 *                                      + users_pkey per member
 *            SubPlan (lastMessage)   Index Scan using messages_pkey (id = c.last_message_id) + users_pkey
 *            SubPlan (unreadCount)   Aggregate -> Index Only Scan using messages_live_idx
 *                                      Index Cond: (conversation_id = c.id AND id > p.last_read_message_id)
 *                                      -- reads only the unread tail of one conversation
 *       -> Result  One-Time Filter: (NOT EXISTS p)   -- the empty-page row: never executed otherwise
 *   Planning Time: ~0.5 ms   Execution Time: ~1.4 ms
 *
 * Work per request = (offset + limit) list-index entries + the user's membership count (total, index-only)
 * + a bounded set of index probes per page row. Nothing scans message history or other users' rows, so
 * it does not grow with the data: p50 at 1M messages is within noise of p50 at 100k (bench/results/db.md).
 * Filters: `type` probes conversations_pkey per membership row scanned (and per membership for the
 * total: at most the user's own conversation count; written so that it cannot become a scan of all
 * conversations, see totalSql()); `withUserId` is planned from the other user's
 * (smaller) membership via conversation_members_list_idx, probing the caller's by primary key.
 * Planning is a large share of the cost: the item is kept to one join (p ⋈ c) plus join-free
 * subqueries, and iso() is expanded in SQL text rather than inlined by the planner nine times.
 */

export interface ListRows {
  items: string[];
  total: number;
  hasMore: boolean;
  /** Cursor of the last item on the page (present when there is a next page). */
  last: ListCursor | null;
}

interface Built {
  sql: string;
  params: unknown[];
}

interface Filters {
  /** The caller's active memberships: `cm.user_id = $1 AND cm.left_at IS NULL`. */
  base: string;
  type?: string;
  withUser?: string;
}

/** Filters shared by the page and the total (everything but the cursor). */
function filterParts(userId: string, q: Pick<ListQuery, 'type' | 'withUserId'>, params: unknown[]): Filters {
  params.push(userId);
  const f: Filters = { base: `cm.user_id = $${params.length} AND cm.left_at IS NULL` };
  if (q.type) {
    params.push(q.type);
    // A scalar subquery, not EXISTS: the planner cannot turn it into a join, so it stays one primary-key
    // probe per membership row read. As a semi-join it would sometimes (depending on the statistics
    // sample) hash-join a sequential scan of all conversations of that type, growing with the data.
    f.type = `(SELECT ct.type FROM conversations ct WHERE ct.id = cm.conversation_id) = $${params.length}`;
  }
  if (q.withUserId) {
    params.push(q.withUserId);
    // Left to the planner: it starts from whichever of the two users' memberships is smaller.
    f.withUser = `EXISTS (SELECT 1 FROM conversation_members o WHERE o.conversation_id = cm.conversation_id
                 AND o.user_id = $${params.length} AND o.left_at IS NULL)`;
  }
  return f;
}

/**
 * The count of the caller's memberships that pass the filters. With `type`, the memberships are read
 * first behind an OFFSET 0 fence and the type probed per row: left to itself the planner may hash-join
 * a sequential scan of every conversation of that type (seen at 1M messages: 59 ms, growing with the
 * table), where the fence keeps it to one primary-key probe per membership of the caller.
 */
function totalSql(f: Filters): string {
  const rest = [f.base, f.withUser].filter(Boolean).join(' AND ');
  return f.type
    ? `SELECT count(*)::int AS n FROM (SELECT cm.conversation_id FROM conversation_members cm WHERE ${rest} OFFSET 0) cm WHERE ${f.type}`
    : `SELECT count(*)::int AS n FROM conversation_members cm WHERE ${rest}`;
}

/**
 * `iso(t)` of 002_iso.sql, expanded here: the planner would otherwise inline the SQL function anew at each
 * of the item's nine call sites on every execution (parse + analyse of its body each time).
 */
export const iso = (t: string) => `to_char((${t}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The JSON of one item as `viewer` ($1) sees it; `p` is the viewer's membership row, `c` the conversation.
 * Everything beyond the conversation row is a correlated subquery that reads a bounded index range
 * (the direct peer, the 5 oldest active members, the last message, the unread tail): the outer join
 * tree stays p ⋈ c, which keeps planning cheap; subqueries keep no joins of their own for the same reason.
 */
/** The 5 oldest active members of `c`, as the item's `members` array (shared with the cached list state). */
export const MEMBERS_JSON = `(
      -- Aggregated straight off the ordered Limit (no join, no grouping in between): json_agg keeps its
      -- order, without the per-row sort that json_agg(... ORDER BY ...) would run for every item.
      SELECT coalesce(json_agg(mp.j), '[]'::json) FROM (
        SELECT json_build_object(
            'userId', m5.user_id::text, 'role', m5.role, 'joinedAt', ${iso('m5.joined_at')},
            'user', (SELECT json_build_object('id', mu.id::text, 'username', mu.username,
                                              'displayName', mu.display_name, 'avatar', mu.avatar)
                     FROM users mu WHERE mu.id = m5.user_id)) AS j
        FROM conversation_members m5
        WHERE m5.conversation_id = c.id AND m5.left_at IS NULL
        ORDER BY m5.joined_at, m5.user_id LIMIT 5) mp)`;

/** The last live message of `c` with its sender, or NULL (shared with the cached list state). */
export const LAST_MESSAGE_JSON = `(
      SELECT json_build_object(
          'id', lm.id::text, 'content', lm.content, 'senderId', lm.sender_id::text,
          'sender', (SELECT json_build_object('id', su.id::text, 'username', su.username,
                                              'displayName', su.display_name, 'avatar', su.avatar)
                     FROM users su WHERE su.id = lm.sender_id),
          'createdAt', ${iso('lm.created_at')}, 'editedAt', ${iso('lm.edited_at')})
      FROM messages lm WHERE lm.id = c.last_message_id AND lm.deleted_at IS NULL)`;

/**
 * The JSON of one item as `viewer` ($1) sees it; `p` is the viewer's membership row, `c` the conversation.
 * Everything beyond the conversation row is a correlated subquery that reads a bounded index range
 * (the direct peer, the 5 oldest active members, the last message, the unread tail): the outer join
 * tree stays p ⋈ c, which keeps planning cheap; subqueries keep no joins of their own for the same reason.
 * The cached list (src/conversation-list/compose.ts) writes the same bytes from cached state.
 */
const ITEM_JSON = `json_build_object(
    'id', c.id::text,
    'type', c.type,
    'title', CASE WHEN c.type = 'direct' THEN (
        SELECT (SELECT u.display_name FROM users u WHERE u.id = o.user_id)
        FROM conversation_members o
        WHERE o.conversation_id = c.id AND o.user_id <> $1
        ORDER BY o.left_at IS NOT NULL, o.joined_at LIMIT 1)
      ELSE c.title END,
    'avatar', c.avatar,
    'memberCount', c.member_count,
    'members', ${MEMBERS_JSON},
    'lastMessage', ${LAST_MESSAGE_JSON},
    'lastMessageAt', ${iso('c.last_message_at')},
    'unreadCount', (
      SELECT count(*)::int FROM messages um
      WHERE um.conversation_id = c.id AND um.deleted_at IS NULL
        AND um.id > p.last_read_message_id AND um.sender_id <> $1),
    'createdAt', ${iso('c.created_at')},
    'updatedAt', ${iso('c.updated_at')}
  )::text`;

const ITEM_JOINS = `JOIN conversations c ON c.id = p.conversation_id`;

export function buildListQuery(userId: string, q: ListQuery): Built {
  const params: unknown[] = [];
  const f = filterParts(userId, q, params);
  let scan = f.base;
  if (q.before) {
    params.push(q.before.sortAt, q.before.id);
    scan += ` AND (cm.sort_at, cm.conversation_id) < ($${params.length - 1}::timestamptz, $${params.length}::bigint)`;
  }
  params.push(q.limit + 1, q.offset);
  const limit = `LIMIT $${params.length - 1} OFFSET $${params.length}`;
  const order = 'ORDER BY cm.sort_at DESC, cm.conversation_id DESC';
  const cols = 'cm.conversation_id, cm.last_read_message_id, cm.sort_at';
  // The type filter alone: walk the list index in order and filter as it goes, stopping at the page end.
  // The inner ORDER BY ... OFFSET 0 is not flattened, and with nothing but a filter above it, it is
  // planned for the first offset+limit+1 rows: the ordered index scan, whatever the type's selectivity
  // (the planner cannot estimate the subquery filter, and would otherwise read and sort the whole
  // membership). Rows leave a subquery in its ORDER BY order; LIMIT/OFFSET apply in that order.
  const page =
    f.type && !f.withUser
      ? `SELECT ${cols} FROM (SELECT ${cols} FROM conversation_members cm WHERE ${scan} ${order} OFFSET 0) cm
         WHERE ${f.type} ${limit}`
      : `SELECT ${cols} FROM conversation_members cm
         WHERE ${[scan, f.type, f.withUser].filter(Boolean).join(' AND ')} ${order} ${limit}`;
  // An empty page still needs the total, from the same snapshot as the page (a second statement could
  // count conversations created in between: "no items, total 2"). The second branch yields one row
  // with a null item, and only when the page is empty (a one-time filter: no cost otherwise).
  const sql = `WITH p AS MATERIALIZED (${page})
    SELECT ${ITEM_JSON} AS item, ${iso('p.sort_at')} AS sort_at, p.conversation_id::text AS id,
      (${totalSql(f)}) AS total, p.sort_at AS s, p.conversation_id AS cid
    FROM p ${ITEM_JOINS}
    UNION ALL
    SELECT NULL, NULL, NULL, (${totalSql(f)}), NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM p)
    ORDER BY s DESC, cid DESC`;
  return { sql, params };
}

interface Row {
  /** Null in the one row of an empty page, which carries only the total. */
  item: string | null;
  sort_at: string;
  id: string;
  total: number;
}

export async function queryConversationList(db: Queryable, userId: string, q: ListQuery): Promise<ListRows> {
  const { sql, params } = buildListQuery(userId, q);
  const { rows: all } = await db.query<Row>(sql, params);
  const total = all[0]!.total;
  const rows = all[0]!.item === null ? [] : all;
  const hasMore = rows.length > q.limit;
  const page = hasMore ? rows.slice(0, q.limit) : rows;
  const lastRow = page[page.length - 1];
  return {
    items: page.map((r) => r.item!),
    total,
    hasMore,
    last: hasMore && lastRow ? { sortAt: lastRow.sort_at, id: lastRow.id } : null,
  };
}

/** One conversation as `userId` sees it, or null when they are not an active member. */
export async function queryConversationItem(
  db: Queryable,
  userId: string,
  conversationId: string,
): Promise<string | null> {
  const { rows } = await db.query<{ item: string }>(
    `WITH p AS (SELECT cm.conversation_id, cm.last_read_message_id FROM conversation_members cm
       WHERE cm.user_id = $1 AND cm.conversation_id = $2 AND cm.left_at IS NULL)
     SELECT ${ITEM_JSON} AS item FROM p ${ITEM_JOINS}`,
    [userId, conversationId],
  );
  return rows[0]?.item ?? null;
}
