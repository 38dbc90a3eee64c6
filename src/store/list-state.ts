import type { Queryable } from '../db/index.js';
import { iso, LAST_MESSAGE_JSON, MEMBERS_JSON } from './conversation-list.js';

/**
 * The two kinds of state a conversation list is composed from (src/conversation-list/README.md), as
 * PostgreSQL holds them, each read with its version in one statement (one snapshot).
 */

/** What every member of a conversation sees alike. JSON fragments are PostgreSQL's own text. */
export interface ConversationStateRow {
  id: string;
  version: string;
  type: 'direct' | 'group' | 'public';
  title: string | null;
  avatar: string | null;
  memberCount: number;
  deletions: number;
  /** The item's `members` array, as the list query writes it. */
  members: string;
  /** The item's `lastMessage` object, or null. */
  lastMessage: string | null;
  lastMessageAt: string | null;
  sortAt: string;
  createdAt: string;
  updatedAt: string;
  /** Direct conversations: `[[userId, displayName], ...]` in title order (active first, oldest first). */
  peers: string | null;
  /** `[[id, senderId], ...]`: the newest live messages, newest first, at most `recent + 1` of them. */
  recent: string;
}

/**
 * `recent` is the number of newest live messages kept for unread counts; one more is read so that the
 * caller knows whether the window holds every live message of the conversation.
 */
export async function loadConversationStates(db: Queryable, ids: readonly string[], recent: number): Promise<ConversationStateRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<ConversationStateRow>(
    `SELECT c.id::text AS id, c.version::text AS version, c.type, c.title, c.avatar,
       c.member_count AS "memberCount", c.deleted_count AS deletions,
       ${MEMBERS_JSON}::text AS members,
       ${LAST_MESSAGE_JSON}::text AS "lastMessage",
       ${iso('c.last_message_at')} AS "lastMessageAt",
       ${iso('coalesce(c.last_message_at, c.created_at)')} AS "sortAt",
       ${iso('c.created_at')} AS "createdAt", ${iso('c.updated_at')} AS "updatedAt",
       CASE WHEN c.type = 'direct' THEN (
         SELECT json_agg(json_build_array(o.user_id::text, (SELECT u.display_name FROM users u WHERE u.id = o.user_id))
                         ORDER BY o.left_at IS NOT NULL, o.joined_at)
         FROM conversation_members o WHERE o.conversation_id = c.id)::text END AS peers,
       (SELECT coalesce(json_agg(json_build_array(r.id, r.sender_id)), '[]'::json) FROM (
          SELECT m.id, m.sender_id FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL
          ORDER BY m.id DESC LIMIT $2) r)::text AS recent
     FROM conversations c WHERE c.id = ANY($1::bigint[])`,
    [ids, recent + 1],
  );
  return rows;
}

/** A user's active memberships, with what their unread counts start from. */
export interface MemberStateRow {
  userId: string;
  version: string;
  /**
   * `[[conversationId, lastReadId, boundaryId, unreadToBoundary, deletions], ...]`: boundaryId is the
   * conversation's last live message when read, unreadToBoundary the member's unread count up to it,
   * deletions the conversation's deletion count then (see src/conversation-list/unread.ts).
   */
  items: string;
}

export async function loadMemberStates(db: Queryable, userIds: readonly string[]): Promise<MemberStateRow[]> {
  if (userIds.length === 0) return [];
  const { rows } = await db.query<MemberStateRow>(
    `SELECT x.id::text AS "userId", coalesce(v.version, 0)::text AS version,
       (SELECT coalesce(json_agg(json_build_array(
            cm.conversation_id::text, cm.last_read_message_id::text, coalesce(c.last_message_id, 0)::text,
            (SELECT count(*) FROM messages um
             WHERE um.conversation_id = cm.conversation_id AND um.deleted_at IS NULL
               AND um.id > cm.last_read_message_id AND um.sender_id <> x.id),
            c.deleted_count)), '[]'::json)
        FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
        WHERE cm.user_id = x.id AND cm.left_at IS NULL)::text AS items
     FROM unnest($1::bigint[]) AS x(id) LEFT JOIN member_list_versions v ON v.user_id = x.id`,
    [userIds],
  );
  return rows;
}

/**
 * Bumps the member-list versions of these users (in id order, so that two writes naming the same users
 * lock their rows in the same order and cannot deadlock).
 */
export async function bumpMemberLists(db: Queryable, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await db.query(
    `INSERT INTO member_list_versions AS v (user_id, version)
     SELECT u, 1 FROM (SELECT DISTINCT unnest($1::bigint[]) AS u) x ORDER BY u
     ON CONFLICT (user_id) DO UPDATE SET version = v.version + 1`,
    [userIds],
  );
}

/**
 * Bumps the version of every conversation that shows this user's name (every conversation they have a
 * membership in, left ones included: a direct title, a last message), locking the rows in id order.
 * Returns their ids.
 */
export async function bumpConversationsShowing(db: Queryable, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE conversations c SET version = c.version + 1
     FROM (SELECT cc.id FROM conversations cc
           WHERE cc.id IN (SELECT conversation_id FROM conversation_members WHERE user_id = $1)
           ORDER BY cc.id FOR NO KEY UPDATE) x
     WHERE c.id = x.id RETURNING c.id::text AS id`,
    [userId],
  );
  return rows.map((r) => r.id);
}

/**
 * Exact unread counts for these (user, conversation) pairs, active memberships only, in one statement:
 * user id -> conversation id -> count (a push to many members of one conversation is one query).
 */
export async function unreadCounts(db: Queryable, pairs: ReadonlyArray<readonly [userId: string, conversationId: string]>): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  if (pairs.length === 0) return out;
  const { rows } = await db.query<{ userId: string; id: string; n: number }>(
    `SELECT cm.user_id::text AS "userId", cm.conversation_id::text AS id,
       (SELECT count(*)::int FROM messages um
        WHERE um.conversation_id = cm.conversation_id AND um.deleted_at IS NULL
          AND um.id > cm.last_read_message_id AND um.sender_id <> cm.user_id) AS n
     FROM unnest($1::bigint[], $2::bigint[]) AS x(u, c)
     JOIN conversation_members cm ON cm.user_id = x.u AND cm.conversation_id = x.c AND cm.left_at IS NULL`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  for (const r of rows) {
    let byConversation = out.get(r.userId);
    if (byConversation === undefined) out.set(r.userId, (byConversation = new Map()));
    byConversation.set(r.id, r.n);
  }
  return out;
}
