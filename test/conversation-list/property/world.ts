import type { Db } from '../../../src/db/index.js';
import type { ConversationType, MemberRole } from '../../../src/model/model.js';

/**
 * What the history generator knows of the service: read back from PostgreSQL after every write, so
 * that the generator never has to re-implement the domain's rules (who becomes admin when the last
 * admin leaves, what a direct conversation does when one side comes back) to pick valid next writes.
 * Rows are read in id order, so that one seed picks the same writes on every run.
 */

export interface PropertyUser {
  id: string;
  username: string;
  token: string;
}

export interface WorldMember {
  userId: string;
  role: MemberRole;
  active: boolean;
}

export interface WorldMessage {
  id: string;
  senderId: string;
  live: boolean;
}

export interface WorldConversation {
  id: string;
  type: ConversationType;
  /** Every membership, left ones included, oldest join first. */
  members: WorldMember[];
  /** Every message, deleted ones included, oldest first. */
  messages: WorldMessage[];
}

export class World {
  conversations: WorldConversation[] = [];
  /** Everyone registered, in registration order (tokens are only known to the test). */
  readonly users: PropertyUser[] = [];

  constructor(private readonly db: Db) {}

  async reload(): Promise<void> {
    const [convs, members, messages] = await Promise.all([
      this.db.query<{ id: string; type: ConversationType }>(`SELECT id::text AS id, type FROM conversations ORDER BY id`),
      this.db.query<{ cid: string; uid: string; role: MemberRole; active: boolean }>(
        `SELECT conversation_id::text AS cid, user_id::text AS uid, role, left_at IS NULL AS active
         FROM conversation_members ORDER BY conversation_id, joined_at, user_id`,
      ),
      this.db.query<{ id: string; cid: string; sid: string; live: boolean }>(
        `SELECT id::text AS id, conversation_id::text AS cid, sender_id::text AS sid, deleted_at IS NULL AS live FROM messages ORDER BY id`,
      ),
    ]);
    const byId = new Map<string, WorldConversation>();
    this.conversations = convs.rows.map((c) => {
      const w: WorldConversation = { id: c.id, type: c.type, members: [], messages: [] };
      byId.set(c.id, w);
      return w;
    });
    for (const m of members.rows) byId.get(m.cid)?.members.push({ userId: m.uid, role: m.role, active: m.active });
    for (const m of messages.rows) byId.get(m.cid)?.messages.push({ id: m.id, senderId: m.sid, live: m.live });
  }

  conversation(id: string): WorldConversation | undefined {
    return this.conversations.find((c) => c.id === id);
  }

  user(id: string): PropertyUser {
    const u = this.users.find((x) => x.id === id);
    if (!u) throw new Error(`unknown user ${id}`);
    return u;
  }

  /** Active conversations of a user. */
  activeConversations(userId: string): WorldConversation[] {
    return this.conversations.filter((c) => isActive(c, userId));
  }

  /** Users who share a conversation with `userId` (any membership, left ones included), and the user. */
  coMembers(userId: string): Set<string> {
    const out = new Set<string>([userId]);
    for (const c of this.conversations) {
      if (c.members.some((m) => m.userId === userId)) for (const m of c.members) out.add(m.userId);
    }
    return out;
  }
}

export const isActive = (c: WorldConversation, userId: string) => c.members.some((m) => m.userId === userId && m.active);
export const activeMembers = (c: WorldConversation) => c.members.filter((m) => m.active);
export const liveMessages = (c: WorldConversation) => c.messages.filter((m) => m.live);
export const admins = (c: WorldConversation) => c.members.filter((m) => m.active && m.role === 'admin');
