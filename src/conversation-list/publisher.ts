import type { Logger } from 'pino';
import type { Engine, Update } from '../cache/engine/index.js';
import type { Db, Transaction } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from '../domain/events.js';
import { loadConversationStates, loadMemberStates } from '../store/list-state.js';
import { busNote, encodeNote, journalNote } from './note.js';
import type { OwedPieces, PublicationOutbox } from './outbox.js';
import { CONVERSATION, MEMBER, RECENT_MESSAGES, conversationFromRow, memberFromRow, withNewMessage, type ConversationState } from './state.js';

/** A deleted conversation's piece: newer than any version it had, so no load of old data can replace it. */
export const DELETED_VERSION = Number.MAX_SAFE_INTEGER;

/** What a write carries from its transaction to after its commit. */
export interface Carried {
  updates: Update[];
  outboxId: string | undefined;
}

/**
 * The list's write subscriber: in the write's transaction it reads the new state of every piece the
 * write changed (under the write's own locks), and after commit the engine installs it everywhere
 * before the write answers; an outbox row covers a crash in between.
 */
export class ListPublisher implements WriteSubscriber<Carried> {
  constructor(
    private readonly engine: Engine,
    private readonly db: Db,
    private readonly outbox: PublicationOutbox | undefined,
    private readonly logger: Logger,
    private readonly debug: boolean,
  ) {}

  /**
   * The new state of every piece the write changed, read inside its transaction: the write holds the
   * locks that order these versions (src/store/list-state.ts), so what it reads is exactly its version.
   */
  async inTransaction(tx: Transaction, event: WriteEvent): Promise<Carried> {
    const updates = this.partialUpdate(event) ?? (await readPieces(tx, event.changed.conversations, event.changed.memberLists));
    const outboxId = this.outbox?.record(tx, { userIds: [...event.changed.memberLists], conversationIds: [...event.changed.conversations] });
    return { updates, outboxId };
  }

  /**
   * A new message whose conversation's state this process holds at the version just before: the new
   * state is that one with the message added (partial update), no query. Anything else (another
   * version here, several pieces changed, another kind of write) reads the state in the transaction.
   */
  private partialUpdate(event: WriteEvent): Update[] | undefined {
    const { message, conversationVersion: version, conversationId } = event;
    if (event.kind !== 'message.created' || !message || version === undefined || conversationId === null) return undefined;
    if (event.changed.memberLists.length > 0 || event.changed.conversations.length !== 1) return undefined;
    const prev = this.engine.peek<ConversationState>(CONVERSATION, conversationId);
    if (prev?.value == null || prev.version !== version - 1) return undefined;
    return [{ kind: CONVERSATION, id: conversationId, version, value: withNewMessage(prev.value, message) }];
  }

  async afterCommit(event: WriteEvent, carried: Carried | undefined): Promise<void> {
    if (carried === undefined) return;
    const done = await this.publish(carried.updates, event);
    // Not done (Redis unreachable): the row stays, so that another instance republishes if this one dies
    // before its own replay lands.
    if (carried.outboxId !== undefined && done) this.outbox?.complete(carried.outboxId);
  }

  /** Installs new versions everywhere; false when they could only be queued. Never throws: the write is durable. */
  private async publish(updates: Update[], event?: WriteEvent): Promise<boolean> {
    const started = performance.now();
    try {
      const versions = new Map(updates.map((u) => [`${u.kind}:${u.id}`, u.version]));
      const notes = event ? { note: encodeNote(busNote(event, versions)), journal: encodeNote(journalNote(event, versions)) } : {};
      const report = await this.engine.publish(updates, notes);
      const fields = {
        kind: event?.kind,
        conversationId: event?.conversationId,
        pieces: updates.length,
        ms: Math.round(report.ms * 100) / 100,
        acks: report.acks,
        waitedForLeaseMs: report.waitedForLeaseMs,
      };
      if (report.degraded) this.logger.warn(fields, '[CACHE-PUBLISH] Redis unreachable: new versions queued for replay');
      else if (this.debug) this.logger.debug(fields, '[CACHE-PUBLISH]');
      return !report.degraded;
    } catch (err) {
      this.logger.error({ err, conversationId: event?.conversationId, ms: performance.now() - started }, '[CACHE-PUBLISH] failed');
      return false;
    }
  }

  /** The outbox sweeper's replay: the owed pieces, read again from the database, published. */
  async republish(owed: OwedPieces): Promise<void> {
    const updates = await readPieces(this.db, owed.conversationIds, owed.userIds);
    if (!(await this.publish(updates))) throw new Error('republish could not reach Redis');
  }
}

/** The current state of these pieces, as updates (a conversation that is gone: its tombstone). */
async function readPieces(db: Transaction | Db, conversationIds: readonly string[], userIds: readonly string[]): Promise<Update[]> {
  const updates: Update[] = [];
  if (conversationIds.length > 0) {
    const rows = await loadConversationStates(db, conversationIds, RECENT_MESSAGES);
    const found = new Set<string>();
    for (const r of rows) {
      const { version, state } = conversationFromRow(r);
      updates.push({ kind: CONVERSATION, id: r.id, version, value: state });
      found.add(r.id);
    }
    for (const id of conversationIds) if (!found.has(id)) updates.push({ kind: CONVERSATION, id, version: DELETED_VERSION, value: null });
  }
  if (userIds.length > 0) {
    for (const r of await loadMemberStates(db, userIds)) {
      const { version, state } = memberFromRow(r);
      updates.push({ kind: MEMBER, id: r.userId, version, value: state });
    }
  }
  return updates;
}
