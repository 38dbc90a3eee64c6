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
   * work on the next turn of the event loop (after the statement sent next), overlapping the rest of
   * the transaction. Only the first call counts; users named later in the event are handled after commit.
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
    let announced: readonly string[] = [];
    let state: 'none' | 'queued' | 'begun' | 'ended' = 'none';
    const begin = (): void => {
      if (state !== 'queued') return;
      state = 'begun';
      for (const s of subs) begun.push(s.begin?.(announced));
    };
    const affects = (userIds: readonly string[]): void => {
      if (state !== 'none' || userIds.length === 0) return;
      announced = userIds;
      state = 'queued';
      // Begun on the next turn of the event loop, once the code that announced has sent its next
      // statement (pg writes a query to the socket synchronously): the subscribers' own sends (a Redis
      // script) then overlap the database's work on it instead of delaying it — measured, the 200-member
      // POST message went from 1.35x to 1.21x the cache-off latency. Whatever needs `begun` calls
      // begin() first, so it is never missing; a write that fails before then begins nothing.
      setImmediate(begin);
    };
    // Ends what was begun, once; cancels a begin still queued.
    const abort = (): void => {
      if (state === 'begun') subs.forEach((s, i) => s.afterAbort?.(begun[i]));
      if (state !== 'none') state = 'ended';
    };
    const recorded: unknown[] = [];
    let outcome: WriteOutcome<T>;
    try {
      outcome = await this.db.transaction(async (tx) => {
        let out: WriteOutcome<T>;
        try {
          out = await fn(tx, { affects });
        } catch (err) {
          abort(); // now, not after the ROLLBACK round trip, during which a queued begin would run
          throw err;
        }
        if (out.event && out.event.affectedUserIds.length > 0) {
          // Not announced earlier: begin now, which still overlaps the COMMIT round trip.
          affects(out.event.affectedUserIds);
          begin();
          for (const [i, s] of subs.entries()) recorded.push(s.inTransaction ? await s.inTransaction(tx, out.event, begun[i]) : undefined);
        }
        return out;
      });
    } catch (err) {
      abort();
      throw err;
    }
    const event = outcome.event;
    if (event && event.affectedUserIds.length > 0) {
      await Promise.all(subs.map((s, i) => s.afterCommit?.(event, { begun: begun[i], recorded: recorded[i] })));
    } else {
      abort();
    }
    if (event) for (const o of this.observers) o(event);
    return outcome.result;
  }
}
