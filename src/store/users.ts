import type { Queryable } from '../db/index.js';
import type { User } from '../model/model.js';

const USER_COLUMNS = `id::text AS id, username, display_name AS "displayName", avatar, iso(created_at) AS "createdAt"`;

export interface UserWithHash extends User {
  passwordHash: string;
}

export async function insertUser(
  db: Queryable,
  u: { username: string; passwordHash: string; displayName: string },
): Promise<User | null> {
  const { rows } = await db.query<User>(
    `INSERT INTO users (username, password_hash, display_name) VALUES ($1, $2, $3)
     ON CONFLICT (username) DO NOTHING RETURNING ${USER_COLUMNS}`,
    [u.username, u.passwordHash, u.displayName],
  );
  return rows[0] ?? null;
}

export async function findUserByUsername(db: Queryable, username: string): Promise<UserWithHash | null> {
  const { rows } = await db.query<UserWithHash>(
    `SELECT ${USER_COLUMNS}, password_hash AS "passwordHash" FROM users WHERE username = $1`,
    [username],
  );
  return rows[0] ?? null;
}

export async function findUserById(db: Queryable, id: string): Promise<User | null> {
  const { rows } = await db.query<User>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function updateUserProfile(
  db: Queryable,
  id: string,
  patch: { displayName?: string | undefined; avatar?: string | null | undefined },
): Promise<User | null> {
  const { rows } = await db.query<User>(
    `UPDATE users SET
       display_name = CASE WHEN $2::boolean THEN $3 ELSE display_name END,
       avatar = CASE WHEN $4::boolean THEN $5 ELSE avatar END,
       updated_at = date_trunc('milliseconds', clock_timestamp())
     WHERE id = $1 RETURNING ${USER_COLUMNS}`,
    [id, patch.displayName !== undefined, patch.displayName ?? null, patch.avatar !== undefined, patch.avatar ?? null],
  );
  return rows[0] ?? null;
}

/**
 * Locks these users' rows (FOR SHARE, in id order) for a write that gives them a new membership, and
 * returns the ids among them that do not exist. The lock conflicts with a profile change of one of
 * them: either the profile change commits first (and this write reads the new name into the
 * conversation's state), or it waits for this one (and then sees the new membership among the
 * conversations whose state shows the name, see bumpConversationsShowing). Taken before any
 * conversation row, as a profile change takes its user row before the conversations'.
 */
export async function lockUsersForMembership(db: Queryable, ids: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id::text AS id FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE`,
    [ids],
  );
  const found = new Set(rows.map((r) => r.id));
  return [...new Set(ids)].filter((id) => !found.has(id));
}

/**
 * Whose lists show this user's name: the user, and the active members of every conversation the user
 * is in or has left (a direct conversation keeps the other's name as its title, and a last message
 * keeps its sender's name, after they leave). Both halves are index range scans (list / left index).
 */
export async function coMemberIds(db: Queryable, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH convs AS (
       SELECT conversation_id FROM conversation_members WHERE user_id = $1 AND left_at IS NULL
       UNION
       SELECT conversation_id FROM conversation_members WHERE user_id = $1 AND left_at IS NOT NULL
     )
     SELECT DISTINCT o.user_id::text AS id
     FROM convs JOIN conversation_members o ON o.conversation_id = convs.conversation_id AND o.left_at IS NULL
     UNION SELECT $1::bigint::text`,
    [userId],
  );
  return rows.map((r) => r.id);
}

/** The users whose lists changed most recently (by their newest conversation activity), newest first. */
export async function recentlyActiveUserIds(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT user_id::text AS id FROM conversation_members WHERE left_at IS NULL
     GROUP BY user_id ORDER BY max(sort_at) DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
