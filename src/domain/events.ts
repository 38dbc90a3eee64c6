import type { Transaction } from '../db/index.js';

/**
 * What a write changed, and whose conversation lists it touches. Every write of the domain produces
 * exactly one of these; the conversation-list cache subscribes to them and nothing else.
 */
export type WriteKind =
  | 'user.registered'
  | 'user.updated'
  | 'conversation.created'
  | 'conversation.updated'
  | 'conversation.deleted'
  | 'member.added'
  | 'member.removed'
  | 'member.left'
  | 'member.joined'
  | 'conversation.read'
  | 'message.created'
  | 'message.edited'
  | 'message.deleted';

export interface WriteEvent {
  kind: WriteKind;
  actorId: string;
  conversationId: string | null;
  /** Every user whose conversation list may differ after this write (including members who just left). */
  affectedUserIds: readonly string[];
}

export interface WriteSubscriber {
  /** Runs inside the write's transaction, before commit (for example, an outbox row). */
  inTransaction?(tx: Transaction, event: WriteEvent): Promise<unknown>;
  /**
   * Runs after commit; the write does not answer until it has resolved. `token` is what
   * `inTransaction` returned. It must not throw for a cache fault: the write is already durable.
   */
  afterCommit?(event: WriteEvent, token: unknown): Promise<void>;
}
