import type { Queryable } from '../db/index.js';
import type { Message } from '../model/model.js';

const MESSAGE_JSON = `m.id::text AS id, m.conversation_id::text AS "conversationId", m.sender_id::text AS "senderId",
  json_build_object('id', u.id::text, 'username', u.username, 'displayName', u.display_name, 'avatar', u.avatar) AS sender,
  m.content, m.reply_to_id::text AS "replyToId", iso(m.created_at) AS "createdAt", iso(m.edited_at) AS "editedAt"`;

async function selectMessage(db: Queryable, id: string): Promise<Message> {
  const { rows } = await db.query<Message>(
    `SELECT ${MESSAGE_JSON} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1`,
    [id],
  );
  return rows[0]!;
}

export interface LiveMessage {
  id: string;
  senderId: string;
}

export async function findLiveMessage(db: Queryable, conversationId: string, messageId: string): Promise<LiveMessage | null> {
  const { rows } = await db.query<LiveMessage>(
    `SELECT id::text AS id, sender_id::text AS "senderId" FROM messages
     WHERE id = $1 AND conversation_id = $2 AND deleted_at IS NULL`,
    [messageId, conversationId],
  );
  return rows[0] ?? null;
}

/**
 * Inserts a message and, in the same statement, moves the conversation's last message and every
 * active member's sort key. The caller holds the conversation row lock.
 */
export async function insertMessage(
  db: Queryable,
  m: { conversationId: string; senderId: string; content: string; replyToId: string | null },
): Promise<Message> {
  const { rows } = await db.query<{ id: string }>(
    `WITH ins AS (
       INSERT INTO messages (conversation_id, sender_id, content, reply_to_id) VALUES ($1, $2, $3, $4)
       RETURNING id, created_at),
     conv AS (
       UPDATE conversations c SET last_message_id = ins.id, last_message_at = ins.created_at, version = c.version + 1
       FROM ins WHERE c.id = $1),
     members AS (
       UPDATE conversation_members cm SET sort_at = ins.created_at
       FROM ins WHERE cm.conversation_id = $1 AND cm.left_at IS NULL)
     SELECT id::text AS id FROM ins`,
    [m.conversationId, m.senderId, m.content, m.replyToId],
  );
  return selectMessage(db, rows[0]!.id);
}

/** Edits a message; the conversation's list state changes (a new version) only when it is the last message. */
export async function updateMessageContent(db: Queryable, conversationId: string, id: string, content: string): Promise<Message> {
  await db.query(
    `WITH edited AS (
       UPDATE messages SET content = $3, edited_at = date_trunc('milliseconds', clock_timestamp()) WHERE id = $2)
     UPDATE conversations SET version = version + 1 WHERE id = $1 AND last_message_id = $2`,
    [conversationId, id, content],
  );
  return selectMessage(db, id);
}

/**
 * Soft-deletes a message. When it was the conversation's last message, the previous live one
 * becomes the last message and the members' sort keys move back with it. Every deletion is a new
 * version of the conversation's list state (its recent messages and unread counts change).
 */
export async function softDeleteMessage(db: Queryable, conversationId: string, id: string): Promise<void> {
  await db.query(`UPDATE messages SET deleted_at = clock_timestamp() WHERE id = $1`, [id]);
  await db.query(
    `WITH old AS (SELECT last_message_id = $2 AS was_last FROM conversations WHERE id = $1),
     prev AS (
       SELECT (SELECT m.id FROM messages m WHERE m.conversation_id = $1 AND m.deleted_at IS NULL
               ORDER BY m.id DESC LIMIT 1) AS id),
     conv AS (
       UPDATE conversations c SET
         last_message_id = CASE WHEN old.was_last THEN prev.id ELSE c.last_message_id END,
         last_message_at = CASE WHEN old.was_last THEN (SELECT created_at FROM messages WHERE id = prev.id)
                                ELSE c.last_message_at END,
         version = c.version + 1, deleted_count = c.deleted_count + 1
       FROM prev, old WHERE c.id = $1
       RETURNING coalesce(c.last_message_at, c.created_at) AS sort_at, old.was_last)
     UPDATE conversation_members cm SET sort_at = conv.sort_at
     FROM conv WHERE conv.was_last AND cm.conversation_id = $1 AND cm.left_at IS NULL`,
    [conversationId, id],
  );
}

/** History, newest first, before a message id (exclusive). Fetches limit+1 to tell whether there is more. */
export async function messageHistory(
  db: Queryable,
  conversationId: string,
  limit: number,
  before: string | undefined,
): Promise<{ messages: Message[]; hasMore: boolean }> {
  const { rows } = await db.query<Message>(
    `SELECT ${MESSAGE_JSON} FROM messages m JOIN users u ON u.id = m.sender_id
     WHERE m.conversation_id = $1 AND m.deleted_at IS NULL AND ($2::bigint IS NULL OR m.id < $2)
     ORDER BY m.id DESC LIMIT $3`,
    [conversationId, before ?? null, limit + 1],
  );
  const hasMore = rows.length > limit;
  return { messages: hasMore ? rows.slice(0, limit) : rows, hasMore };
}

/** Whether the message (live or deleted) belongs to the conversation. */
export async function messageInConversation(db: Queryable, conversationId: string, messageId: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2`, [messageId, conversationId]);
  return rows.length > 0;
}
