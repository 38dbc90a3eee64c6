import type { Transaction } from '../db/index.js';
import type { Message } from '../model/model.js';

/**
 * What a write changed, and whose conversation lists it touches. Every write of the domain produces
 * exactly one of these; the conversation-list cache and the push subscribe to them and nothing else.
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
  /**
   * The pieces of list state whose version the write bumped (see src/store/list-state.ts):
   * conversations whose shared state changed, users whose memberships or read markers changed.
   */
  changed: { conversations: readonly string[]; memberLists: readonly string[] };
  /** Users whose list the conversation left (a removal, a leave, a deleted conversation). */
  removedUserIds?: readonly string[];
  /** The message a `message.*` write created or edited (deleted: only its id). */
  message?: Message;
  messageId?: string;
}

/**
 * A party to every write. `T` is what it carries from inside the transaction to after the commit.
 */
export interface WriteSubscriber<T = unknown> {
  /** Runs inside the write's transaction, after the write's own statements, before commit. */
  inTransaction?(tx: Transaction, event: WriteEvent): Promise<T>;
  /**
   * Runs after commit; the write does not answer until it has resolved. It must not throw for a cache
   * fault: the write is already durable.
   */
  afterCommit?(event: WriteEvent, carried: T | undefined): Promise<void>;
}
