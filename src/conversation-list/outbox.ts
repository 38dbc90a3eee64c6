import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { Db, Transaction } from '../db/index.js';

/** Statement text is built from ids (no parameters with COMMIT): only digit strings may go in. */
const DIGITS = /^[0-9]{1,19}$/;

/**
 * Durable record of invalidations that are owed. A row is written in the same transaction as the
 * change, and removed once the invalidation has taken effect. If the process dies between commit
 * and invalidation, the row stays, and a sweeper (any instance) replays it — so a crash cannot leave
 * a stale list in L2 until its TTL. (PostgreSQL does the durable part; LISTEN/NOTIFY would not:
 * a notification to a process that is down is lost.)
 */
export class InvalidationOutbox {
  private done: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly idBase = BigInt(randomBytes(4).readUInt32BE() >>> 2) << 32n;
  private seq = 0;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    /** Rows older than this belong to a process that did not finish: replay them. */
    private readonly orphanAfterMs = 10_000,
  ) {}

  /**
   * Queues the row to commit with the write, in COMMIT's own round trip (see Transaction.atCommit):
   * the outbox costs the write no round trip. The id is drawn here rather than by the database, since
   * nobody waits for a RETURNING: 30 random bits per process, then a counter (62 bits in all; no
   * random draw per write). A collision (harmless: the other row stands for the same kind of debt) is
   * skipped, never an error.
   */
  async record(tx: Transaction, userIds: readonly string[]): Promise<string> {
    for (const id of userIds) if (!DIGITS.test(id)) throw new Error(`outbox: not a user id: ${JSON.stringify(id)}`);
    this.seq = (this.seq + 1) % 2 ** 32;
    const id = (this.idBase + BigInt(this.seq)).toString();
    tx.atCommit(
      `INSERT INTO cache_invalidations (id, user_ids) OVERRIDING SYSTEM VALUE
       VALUES (${id}, '{${userIds.join(',')}}'::bigint[]) ON CONFLICT (id) DO NOTHING`,
    );
    return id;
  }

  /** The invalidation took effect; the row is removed in the next batch (off the write's response path). */
  complete(id: string): void {
    this.done.push(id);
  }

  /**
   * Every `intervalMs`: delete completed rows in one statement, and replay orphans. The default
   * interval is a fifth of the replay delay (at most 1 s): a completed row must be deleted well before
   * it is old enough for another instance's sweeper to take it for an orphan and replay it (harmless,
   * but an invalidation for nothing).
   */
  start(replay: (userIds: string[]) => Promise<void>, intervalMs = Math.max(20, Math.min(1000, this.orphanAfterMs / 5))): void {
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

  async sweep(replay: (userIds: string[]) => Promise<void>): Promise<number> {
    await this.flushCompleted();
    // SKIP LOCKED: several instances sweep without replaying the same row twice.
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string; user_ids: string[] }>(
        `SELECT id::text AS id, user_ids::text[] AS user_ids FROM cache_invalidations
         WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
         ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED`,
        [this.orphanAfterMs],
      );
      if (rows.length === 0) return 0;
      const users = [...new Set(rows.flatMap((r) => r.user_ids))];
      await replay(users);
      await tx.query('DELETE FROM cache_invalidations WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      this.logger.warn({ rows: rows.length, users: users.length }, '[CACHE-OUTBOX] replayed orphaned invalidations');
      return rows.length;
    });
  }

  async flushCompleted(): Promise<void> {
    if (this.done.length === 0) return;
    const ids = this.done;
    this.done = [];
    try {
      await this.db.query('DELETE FROM cache_invalidations WHERE id = ANY($1::bigint[])', [ids]);
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
