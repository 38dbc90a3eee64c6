import type { Queryable, Transaction } from '../db/index.js';

/**
 * The outbox of cache publications (table cache_invalidations): a row names the pieces of list state a
 * write changed (member lists as user ids, conversations), committed with the write, deleted once
 * their new versions are everywhere. Rows left by a process that died in between are replayed.
 */

/** Statement text is built from ids (it rides with COMMIT, without parameters): only digit strings go in. */
const DIGITS = /^[0-9]{1,19}$/;

function idArray(ids: readonly string[]): string {
  for (const id of ids) if (!DIGITS.test(id)) throw new Error(`outbox: not an id: ${JSON.stringify(id)}`);
  return `'{${ids.join(',')}}'::bigint[]`;
}

/** Queues the row to commit with the write, in COMMIT's own round trip (see Transaction.atCommit). */
export function queueOutboxRow(tx: Transaction, id: string, userIds: readonly string[], conversationIds: readonly string[]): void {
  tx.atCommit(
    `INSERT INTO cache_invalidations (id, user_ids, conversation_ids) OVERRIDING SYSTEM VALUE
     VALUES (${id}, ${idArray(userIds)}, ${idArray(conversationIds)}) ON CONFLICT (id) DO NOTHING`,
  );
}

export async function deleteOutboxRows(db: Queryable, ids: readonly string[]): Promise<void> {
  await db.query('DELETE FROM cache_invalidations WHERE id = ANY($1::bigint[])', [ids]);
}

export interface OutboxRow {
  id: string;
  userIds: string[];
  conversationIds: string[];
}

/** Rows older than `olderThanMs`, locked (SKIP LOCKED: several instances sweep without replaying a row twice). */
export async function claimOrphans(tx: Queryable, olderThanMs: number, limit: number): Promise<OutboxRow[]> {
  const { rows } = await tx.query<OutboxRow>(
    `SELECT id::text AS id, user_ids::text[] AS "userIds", conversation_ids::text[] AS "conversationIds"
     FROM cache_invalidations
     WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [olderThanMs, limit],
  );
  return rows;
}
