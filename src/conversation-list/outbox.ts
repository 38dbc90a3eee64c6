import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { Db, Transaction } from '../db/index.js';
import { claimOrphans, deleteOutboxRows, queueOutboxRow } from '../store/outbox.js';

/** The pieces a replay republishes from the database. */
export interface OwedPieces {
  userIds: string[];
  conversationIds: string[];
}

/**
 * Durable record of publications that are owed. A row is written in the same transaction as the
 * change (in COMMIT's own round trip), and removed once the new versions are in every cache. If the
 * process dies in between, the row stays, and a sweeper (any instance) republishes those pieces from
 * the database, so a crash cannot leave an old version in Redis until its TTL. (PostgreSQL does the
 * durable part; LISTEN/NOTIFY would not: a notification to a process that is down is lost.)
 */
export class PublicationOutbox {
  private done: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** 30 random bits per process, then a counter (62 bits in all): no round trip for an id. */
  private readonly idBase = BigInt(randomBytes(4).readUInt32BE() >>> 2) << 32n;
  private seq = 0;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    /** Rows older than this belong to a process that did not finish: replay them. */
    private readonly orphanAfterMs = 10_000,
  ) {}

  record(tx: Transaction, owed: OwedPieces): string {
    this.seq = (this.seq + 1) % 2 ** 32;
    const id = (this.idBase + BigInt(this.seq)).toString();
    queueOutboxRow(tx, id, owed.userIds, owed.conversationIds);
    return id;
  }

  /** The publication took effect; the row is removed in the next batch (off the write's response path). */
  complete(id: string): void {
    this.done.push(id);
  }

  /**
   * Every `intervalMs`: delete completed rows in one statement, and replay orphans. The interval is a
   * fifth of the replay delay (at most 1 s): a completed row must be gone well before another
   * instance's sweeper would take it for an orphan (harmless, but a publication for nothing).
   */
  start(replay: (owed: OwedPieces) => Promise<void>, intervalMs = Math.max(20, Math.min(1000, this.orphanAfterMs / 5))): void {
    let sweeping = false;
    this.timer = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      this.sweep(replay)
        .catch((err) => this.logger.warn({ err: String(err) }, '[CACHE-OUTBOX] sweep failed'))
        .finally(() => (sweeping = false));
    }, intervalMs);
    this.timer.unref();
  }

  async sweep(replay: (owed: OwedPieces) => Promise<void>): Promise<number> {
    await this.flushCompleted();
    return this.db.transaction(async (tx) => {
      const rows = await claimOrphans(tx, this.orphanAfterMs, 100);
      if (rows.length === 0) return 0;
      const owed: OwedPieces = {
        userIds: [...new Set(rows.flatMap((r) => r.userIds))],
        conversationIds: [...new Set(rows.flatMap((r) => r.conversationIds))],
      };
      await replay(owed);
      await deleteOutboxRows(tx, rows.map((r) => r.id));
      this.logger.warn({ rows: rows.length, users: owed.userIds.length, conversations: owed.conversationIds.length }, '[CACHE-OUTBOX] replayed orphaned publications');
      return rows.length;
    });
  }

  async flushCompleted(): Promise<void> {
    if (this.done.length === 0) return;
    const ids = this.done;
    this.done = [];
    try {
      await deleteOutboxRows(this.db, ids);
    } catch (err) {
      this.done.push(...ids);
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flushCompleted().catch(() => undefined);
  }
}
