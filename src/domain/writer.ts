import type { Db, Queryable } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from './events.js';

export interface WriteOutcome<T> {
  result: T;
  /** What the write changed; null when it changed nothing (for example, a direct conversation that already existed). */
  event: WriteEvent | null;
}

/** What a write may tell the Writer while it runs. */
export interface WriteContext {
  /**
   * These users' lists will change (the event's affectedUserIds, known early): subscribers start their
   * work now, overlapping the rest of the transaction. Only the first call counts; users named later in
   * the event are handled after commit.
   */
  affects(userIds: readonly string[]): void;
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

  async write<T>(fn: (tx: Queryable, w: WriteContext) => Promise<WriteOutcome<T>>): Promise<T> {
    const subs = this.subscribers;
    const begun: unknown[] = [];
    let announced = false;
    const affects = (userIds: readonly string[]): void => {
      if (announced || userIds.length === 0) return;
      announced = true;
      for (const s of subs) begun.push(s.begin?.(userIds));
    };
    const abort = (): void => subs.forEach((s, i) => s.afterAbort?.(begun[i]));
    const recorded: unknown[] = [];
    let outcome: WriteOutcome<T>;
    try {
      outcome = await this.db.transaction(async (tx) => {
        const out = await fn(tx, { affects });
        if (out.event && out.event.affectedUserIds.length > 0) {
          // Not announced earlier: begin now, which still overlaps the COMMIT round trip.
          affects(out.event.affectedUserIds);
          for (const [i, s] of subs.entries()) recorded.push(s.inTransaction ? await s.inTransaction(tx, out.event, begun[i]) : undefined);
        }
        return out;
      });
    } catch (err) {
      if (announced) abort();
      throw err;
    }
    const event = outcome.event;
    if (event && event.affectedUserIds.length > 0) {
      await Promise.all(subs.map((s, i) => s.afterCommit?.(event, { begun: begun[i], recorded: recorded[i] })));
    } else if (announced) {
      abort();
    }
    if (event) for (const o of this.observers) o(event);
    return outcome.result;
  }
}
