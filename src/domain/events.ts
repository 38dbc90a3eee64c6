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
  /**
   * Called, not awaited, as soon as the write knows whose lists it will touch — before its statements
   * have all run and committed — so that work such as a cache invalidation overlaps the transaction.
   * Its return value comes back in `afterCommit` or `afterAbort`.
   */
  begin?(affectedUserIds: readonly string[]): unknown;
  /** Runs inside the write's transaction, before commit (for example, an outbox row); `begun` as below. */
  inTransaction?(tx: Transaction, event: WriteEvent, begun: unknown): Promise<unknown>;
  /**
   * Runs after commit; the write does not answer until it has resolved. It must not throw for a cache
   * fault: the write is already durable.
   */
  afterCommit?(event: WriteEvent, tokens: { begun: unknown; recorded: unknown }): Promise<void>;
  /** The write begun did not commit, or changed nobody's list after all. Must not throw. */
  afterAbort?(begun: unknown): void;
}
