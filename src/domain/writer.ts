import type { Db, Queryable } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from './events.js';

export interface WriteOutcome<T> {
  result: T;
  /** What the write changed; null when it changed nothing (for example, a direct conversation that already existed). */
  event: WriteEvent | null;
}

/**
 * The one way to write. Every service write runs here: in one transaction, then its event goes to
 * the subscribers, in the transaction (outbox) and after commit (cache invalidation), and only then
 * does the write return, so the HTTP answer is sent after the invalidation that makes it visible.
 */
export class Writer {
  private readonly subscribers: WriteSubscriber[] = [];
  /** Every event written, in order, for tests and metrics that want to observe writes. */
  readonly observers: Array<(event: WriteEvent) => void> = [];

  constructor(private readonly db: Db) {}

  subscribe(s: WriteSubscriber): void {
    this.subscribers.push(s);
  }

  async write<T>(fn: (tx: Queryable) => Promise<WriteOutcome<T>>): Promise<T> {
    const subs = this.subscribers;
    const tokens: unknown[] = [];
    const outcome = await this.db.transaction(async (tx) => {
      const out = await fn(tx);
      if (out.event && out.event.affectedUserIds.length > 0) {
        for (const s of subs) tokens.push(s.inTransaction ? await s.inTransaction(tx, out.event) : undefined);
      }
      return out;
    });
    const event = outcome.event;
    if (event) {
      if (event.affectedUserIds.length > 0) {
        await Promise.all(subs.map((s, i) => s.afterCommit?.(event, tokens[i])));
      }
      for (const o of this.observers) o(event);
    }
    return outcome.result;
  }
}
