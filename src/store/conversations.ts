import type { Queryable } from '../db/index.js';
import type { ConversationType, MemberRole } from '../model/model.js';

export interface ConversationRow {
  id: string;
  type: ConversationType;
  title: string | null;
}

export interface Membership {
  conversationId: string;
  type: ConversationType;
  role: MemberRole;
  lastMessageId: string | null;
  memberCount: number;
}

const MEMBERSHIP_COLUMNS = `c.id::text AS "conversationId", c.type, m.role, c.last_message_id::text AS "lastMessageId",
  c.member_count AS "memberCount"`;

/**
 * The caller's active membership, locking the conversation row against concurrent writes
 * (FOR NO KEY UPDATE: writes in one conversation are serialised, so the member set a write
 * reports for invalidation is the one it committed against; message inserts, which only need
 * FOR KEY SHARE on the row for their foreign key, are not blocked by it).
 * The membership row is locked too, in a mode that waits for a concurrent update of it (FOR SHARE):
 * after a wait, PostgreSQL re-checks the WHERE clause with the latest version only of rows whose lock
 * had to wait for their update. Without it (or with FOR KEY SHARE, which does not conflict with the
 * leave's update), `m.left_at IS NULL` was judged on the snapshot from before the wait, and a member
 * who had just left still passed (test/store/conversations.test.ts).
 */
export async function lockMembership(db: Queryable, conversationId: string, userId: string): Promise<Membership | null> {
  const { rows } = await db.query<Membership>(
    `SELECT ${MEMBERSHIP_COLUMNS}
     FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id
     WHERE c.id = $1 AND m.user_id = $2 AND m.left_at IS NULL
     FOR NO KEY UPDATE OF c FOR SHARE OF m`,
    [conversationId, userId],
  );
  return rows[0] ?? null;
}

/** The conversation, locked, whether or not the caller is a member (for joining a public one). */
export async function lockConversation(db: Queryable, conversationId: string): Promise<ConversationRow | null> {
  const { rows } = await db.query<ConversationRow>(
    `SELECT id::text AS id, type, title FROM conversations WHERE id = $1 FOR NO KEY UPDATE`,
    [conversationId],
  );
  return rows[0] ?? null;
}

export async function findMembership(db: Queryable, conversationId: string, userId: string): Promise<Membership | null> {
  const { rows } = await db.query<Membership>(
    `SELECT ${MEMBERSHIP_COLUMNS}
     FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id
     WHERE c.id = $1 AND m.user_id = $2 AND m.left_at IS NULL`,
    [conversationId, userId],
  );
  return rows[0] ?? null;
}

/** Everyone who ever was a member, including those who left. */
export async function allMemberIds(db: Queryable, conversationId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT user_id::text AS id FROM conversation_members WHERE conversation_id = $1`,
    [conversationId],
  );
  return rows.map((r) => r.id);
}

export async function activeMemberIds(db: Queryable, conversationId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT user_id::text AS id FROM conversation_members WHERE conversation_id = $1 AND left_at IS NULL`,
    [conversationId],
  );
  return rows.map((r) => r.id);
}

export function directKey(a: string, b: string): string {
  return BigInt(a) < BigInt(b) ? `${a}:${b}` : `${b}:${a}`;
}

export async function findDirectConversation(db: Queryable, key: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id::text AS id FROM conversations WHERE direct_key = $1 FOR NO KEY UPDATE`,
    [key],
  );
  return rows[0]?.id ?? null;
}

/** Inserts the conversation; null when a direct conversation with the same key won the race. */
export async function insertConversation(
  db: Queryable,
  c: { type: ConversationType; title: string | null; directKey: string | null; createdBy: string },
): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO conversations (type, title, direct_key, created_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (direct_key) DO NOTHING RETURNING id::text AS id`,
    [c.type, c.title, c.directKey, c.createdBy],
  );
  return rows[0]?.id ?? null;
}

/**
 * Adds members (or re-activates ones who left). A member starts with everything already sent
 * marked read, and with the conversation's current activity time as their sort key.
 * Keeps conversations.member_count in step. Returns the ids actually added.
 */
export async function addMembers(
  db: Queryable,
  conversationId: string,
  members: ReadonlyArray<{ userId: string; role: MemberRole }>,
): Promise<string[]> {
  if (members.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `WITH c AS (SELECT id, coalesce(last_message_at, created_at) AS sort_at,
                       coalesce((SELECT max(id) FROM messages WHERE conversation_id = $1), 0) AS last_id
                FROM conversations WHERE id = $1),
     upserted AS (
       INSERT INTO conversation_members AS m (conversation_id, user_id, role, sort_at, last_read_message_id)
       SELECT c.id, x.user_id, x.role, c.sort_at, c.last_id
       FROM c, unnest($2::bigint[], $3::text[]) AS x(user_id, role)
       ON CONFLICT (conversation_id, user_id) DO UPDATE SET
         left_at = NULL, role = EXCLUDED.role, joined_at = date_trunc('milliseconds', clock_timestamp()),
         sort_at = EXCLUDED.sort_at, last_read_message_id = EXCLUDED.last_read_message_id
       WHERE m.left_at IS NOT NULL
       RETURNING user_id),
     counted AS (
       UPDATE conversations SET member_count = member_count + (SELECT count(*) FROM upserted), version = version + 1
       WHERE id = $1 AND EXISTS (SELECT 1 FROM upserted))
     SELECT user_id::text AS id FROM upserted`,
    [conversationId, members.map((m) => m.userId), members.map((m) => m.role)],
  );
  return rows.map((r) => r.id);
}

/** Marks a member as gone; returns false when they were not active. */
export async function removeMember(db: Queryable, conversationId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH gone AS (
       UPDATE conversation_members SET left_at = date_trunc('milliseconds', clock_timestamp())
       WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL RETURNING 1)
     UPDATE conversations SET member_count = member_count - (SELECT count(*) FROM gone),
       updated_at = date_trunc('milliseconds', clock_timestamp()), version = version + 1
     WHERE id = $1 AND EXISTS (SELECT 1 FROM gone)`,
    [conversationId, userId],
  );
  return rowCount > 0;
}

/** A group left without an admin gets its oldest remaining member as admin. */
export async function ensureAdmin(db: Queryable, conversationId: string): Promise<void> {
  await db.query(
    `WITH promoted AS (
       UPDATE conversation_members SET role = 'admin'
       WHERE conversation_id = $1 AND user_id = (
         SELECT user_id FROM conversation_members WHERE conversation_id = $1 AND left_at IS NULL
         ORDER BY joined_at, user_id LIMIT 1)
       AND NOT EXISTS (SELECT 1 FROM conversation_members
                       WHERE conversation_id = $1 AND left_at IS NULL AND role = 'admin')
       RETURNING 1)
     UPDATE conversations SET version = version + 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM promoted)`,
    [conversationId],
  );
}

export async function isActiveMember(db: Queryable, conversationId: string, userId: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL`,
    [conversationId, userId],
  );
  return rows.length > 0;
}

export async function updateConversation(
  db: Queryable,
  id: string,
  patch: { title?: string | undefined; avatar?: string | null | undefined },
): Promise<void> {
  await db.query(
    `UPDATE conversations SET
       title = CASE WHEN $2::boolean THEN $3 ELSE title END,
       avatar = CASE WHEN $4::boolean THEN $5 ELSE avatar END,
       updated_at = date_trunc('milliseconds', clock_timestamp()), version = version + 1
     WHERE id = $1`,
    [id, patch.title !== undefined, patch.title ?? null, patch.avatar !== undefined, patch.avatar ?? null],
  );
}

export async function deleteConversation(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM conversations WHERE id = $1`, [id]);
}

/** Moves the caller's read marker forward (never back) to `messageId`, or to the newest message. */
export async function markRead(
  db: Queryable,
  conversationId: string,
  userId: string,
  messageId: string | undefined,
): Promise<void> {
  await db.query(
    `UPDATE conversation_members SET last_read_message_id = GREATEST(last_read_message_id,
       coalesce($3::bigint, (SELECT max(id) FROM messages WHERE conversation_id = $1), 0))
     WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL`,
    [conversationId, userId, messageId ?? null],
  );
}
