import type { JournalRead } from '../types.js';

/**
 * The journal of a memory-only engine (one process): the same positions and answers as the Redis one
 * (remote/scripts.ts), bounded by count. Positions are `<epoch>:<seq>`.
 */
export class MemoryJournal {
  private readonly notes: Array<{ seq: number; note: Buffer }> = [];
  private seq = 0;
  /** From the clock: a restarted process (whose notes died with it) refuses positions of the one before. */
  private epoch = Date.now();
  /** Notes with seq <= floor may have been dropped. */
  private floor = 0;

  constructor(private readonly max: number) {}

  append(note: Buffer): string {
    this.notes.push({ seq: ++this.seq, note });
    if (this.notes.length > this.max) this.floor = this.notes.splice(0, this.notes.length - this.max).pop()!.seq;
    return `${this.epoch}:${this.seq}`;
  }

  head(): string {
    return `${this.epoch}:${this.seq}`;
  }

  /** One process assigns positions in the order it applies writes: nothing to read back (rewindMs unused). */
  read(position: string, limit: number, _rewindMs = 0): JournalRead | undefined {
    const m = /^(\d+):(\d+)$/.exec(position);
    if (!m || Number(m[1]) !== this.epoch) return undefined;
    const after = Number(m[2]);
    if (after < this.floor || after > this.seq) return undefined;
    const start = this.notes.findIndex((n) => n.seq > after);
    const slice = start < 0 ? [] : this.notes.slice(start, start + limit);
    const last = slice[slice.length - 1];
    return {
      notes: slice.map((n) => ({ position: `${this.epoch}:${n.seq}`, note: n.note })),
      next: last ? `${this.epoch}:${last.seq}` : position,
      more: last !== undefined && last.seq < this.seq,
    };
  }

  reset(): void {
    this.notes.length = 0;
    this.epoch++;
    this.floor = this.seq;
  }
}
