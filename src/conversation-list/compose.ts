import type { ListCursor, ListQuery } from '../model/model.js';
import type { ListRows } from '../store/conversation-list.js';
import type { ConversationState, MemberState, Membership } from './state.js';
import { unreadCount } from './unread.js';

/**
 * A page composed from cached state, in memory: the same rows, order, total and item bytes as the SQL
 * source (src/store/conversation-list.ts), which stays the reference (test/conversation-list/compose-
 * property.test.ts compares the two, byte for byte, over random histories of every write).
 */

export interface ComposeInput {
  viewer: string;
  member: MemberState;
  conversations: ReadonlyMap<string, ConversationState>;
  query: ListQuery;
  /** The withUserId user's state (that filter only). */
  other?: MemberState | undefined;
  /** Exact unread counts for memberships the cached state cannot count (see unread.ts), by conversation. */
  exactUnread?: ReadonlyMap<string, number>;
}

export type Composed =
  | { ok: true; rows: ListRows }
  /** These page rows need an exact unread count (or a newer member state). */
  | { ok: false; uncounted: string[] };

interface Row {
  m: Membership;
  c: ConversationState;
}

/** Numeric order of two decimal ids (bigint), without BigInt. */
function idCompare(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** List order: sortAt descending, then id descending. ISO strings of one format compare as time. */
function newestFirst(x: Row, y: Row): number {
  if (x.c.sortAt !== y.c.sortAt) return x.c.sortAt < y.c.sortAt ? 1 : -1;
  return idCompare(y.c.id, x.c.id);
}

function before(r: Row, cursor: ListCursor): boolean {
  return r.c.sortAt < cursor.sortAt || (r.c.sortAt === cursor.sortAt && idCompare(r.c.id, cursor.id) < 0);
}

export function composePage(input: ComposeInput): Composed {
  const q = input.query;
  const rows: Row[] = [];
  for (const m of input.member.memberships) {
    const c = input.conversations.get(m.c);
    // Missing: deleted by a write still in flight (its member states follow with it).
    if (c === undefined) continue;
    if (q.type !== undefined && c.type !== q.type) continue;
    if (input.other !== undefined && !input.other.conversationIds.has(m.c)) continue;
    rows.push({ m, c });
  }
  rows.sort(newestFirst);
  let start = q.offset;
  if (q.before !== undefined) {
    const cursor = q.before;
    start = rows.findIndex((r) => before(r, cursor));
    if (start < 0) start = rows.length;
  }
  const page = rows.slice(start, start + q.limit);
  const hasMore = rows.length > start + q.limit;
  const viewer = Number(input.viewer);
  const items: string[] = [];
  const uncounted: string[] = [];
  for (const r of page) {
    const n = input.exactUnread?.get(r.c.id) ?? unreadCount(viewer, r.m, r.c);
    if (n === undefined) uncounted.push(r.c.id);
    else items.push(itemJson(input.viewer, r.c, n));
  }
  if (uncounted.length > 0) return { ok: false, uncounted };
  const last = page[page.length - 1];
  return {
    ok: true,
    rows: { items, total: rows.length, hasMore, last: hasMore && last ? { sortAt: last.c.sortAt, id: last.c.id } : null },
  };
}

/** One item as `viewer` sees it: the conversation's parts around the title (direct) and the unread count. */
export function itemJson(viewer: string, c: ConversationState, unread: number): string {
  const r = c.render;
  if (c.type !== 'direct') return r.head + r.mid + unread + r.tail;
  let title = 'null';
  for (const [userId, name] of c.peers ?? []) {
    if (userId !== viewer) {
      title = JSON.stringify(name);
      break;
    }
  }
  return r.head + title + r.mid + unread + r.tail;
}
