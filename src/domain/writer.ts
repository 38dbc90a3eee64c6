import type { Db, Queryable } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from './events.js';

export interface WriteOutcome<T> {
  result: T;
  /** What the write changed; null when it changed nothing (for example, a direct conversation that already existed). */
  event: WriteEvent | null;
}

/**
 * The one way to write. Every service write runs here: in one transaction, then its event goes to
 * the subscribers, in the transaction (the new list state, read under the write's own locks; an outbox
 * row) and after commit (that state installed in every cache), and only then does the write return, so
 * the HTTP answer is sent after what makes it visible.
 */
export class Writer {
  private readonly subscribers: Array<WriteSubscriber<unknown>> = [];
  /** Every event written, in order, for tests and metrics that want to observe writes. */
  readonly observers: Array<(event: WriteEvent) => void> = [];

  constructor(private readonly db: Db) {}

  /** Returns the way to unsubscribe (tools that need an instance that forgets its cache, for example). */
  subscribe<T>(s: WriteSubscriber<T>): () => void {
    const sub = s as WriteSubscriber<unknown>;
    this.subscribers.push(sub);
    return () => {
      const i = this.subscribers.indexOf(sub);
      if (i >= 0) this.subscribers.splice(i, 1);
    };
  }

  async write<T>(fn: (tx: Queryable) => Promise<WriteOutcome<T>>): Promise<T> {
    const subs = [...this.subscribers];
    const carried: unknown[] = [];
    const outcome = await this.db.transaction(async (tx) => {
      const out = await fn(tx);
      if (out.event && touches(out.event)) {
        for (const s of subs) carried.push(s.inTransaction ? await s.inTransaction(tx, out.event) : undefined);
      }
      return out;
    });
    const event = outcome.event;
    if (event && touches(event)) await Promise.all(subs.map((s, i) => s.afterCommit?.(event, carried[i])));
    if (event) for (const o of this.observers) o(event);
    return outcome.result;
  }
}

function touches(e: WriteEvent): boolean {
  return e.affectedUserIds.length > 0 || e.changed.conversations.length > 0 || e.changed.memberLists.length > 0;
}
