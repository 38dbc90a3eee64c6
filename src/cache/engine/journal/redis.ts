import type { RedisL2 } from '../remote/l2.js';
import type { JournalRead } from '../types.js';

/**
 * The journal in Redis: a stream written by the broadcast script (remote/scripts.ts), so a note's
 * position is assigned in the same atomic step as its message is published: positions come in the
 * order every instance receives the messages. Positions are `<epoch>:<stream id>`.
 */
export class RedisJournal {
  constructor(private readonly l2: RedisL2) {}

  head(): Promise<string> {
    return this.l2.journalHead();
  }

  /**
   * `rewindMs`: also the notes of the last rewindMs before the position. A note's message may reach an
   * instance after a later one's (two writers), so a client that resumes from the newest position it
   * saw may not have seen an older one yet; reading back a little covers it (notes are idempotent).
   */
  async read(position: string, limit: number, rewindMs = 0): Promise<JournalRead | undefined> {
    const m = /^(\d+):(\d+-\d+)$/.exec(position);
    if (!m) return undefined;
    const rows = await this.l2.journalRead(m[1]!, m[2]!, limit + 1, rewindMs);
    if (rows === undefined) return undefined;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      notes: page.map((r) => ({ position: `${m[1]}:${r.id}`, note: r.note })),
      next: last ? `${m[1]}:${last.id}` : position,
      more: rows.length > limit,
    };
  }
}
