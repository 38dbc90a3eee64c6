import { packValue } from '../codec.js';
import type { MemoryJournal } from '../journal/memory.js';
import type { EngineState } from '../state.js';
import type { Applied, PublishOptions, PublishReport, Update } from '../types.js';
import type { AckTracker } from './acks.js';
import type { Lease } from './lease.js';
import { encodeControl, encodeUpdates, type WireUpdate } from './wire.js';

const TOMBSTONE = Buffer.alloc(0);

interface Install {
  key: string;
  version: number;
  t: number;
  data: Buffer;
}

/**
 * The write side: a write's new versions, installed in every level of every instance before the write
 * answers (docs/cache-engine.md, "publish").
 *
 * 1. Applied here at once (L1, derived values, loads in flight).
 * 2. Installed in Redis, one script per piece (each touches one slot), compare-and-set on the version;
 *    and broadcast, one script on the coordination slot: journal the note, publish the message to
 *    every instance, return the live ones. Both at once.
 * 3. Every live instance applies the message and acknowledges; the writer waits for each ack or that
 *    instance's lease expiry, whichever comes first (an instance past its lease serves no L1).
 * 4. Then a "settled" message: every live instance has the new versions (what a push waits for).
 *
 * Redis unreachable: retried until the first failure + a lease + a command timeout, by when no
 * instance can trust its L1 (none could renew). After that the write waits for nobody: the versions
 * go to a replay queue, sent as soon as Redis answers, and this instance reads no L2 until then.
 */
export class Publisher {
  private seq = 0;
  private readonly pending = new Map<string, Install>();
  private journalBroken = false;
  private replaying = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly s: EngineState,
    private readonly instanceId: string,
    private readonly lease: Lease | undefined,
    private readonly acks: AckTracker,
    private readonly memory: MemoryJournal | undefined,
  ) {}

  get pendingReplays(): number {
    return this.pending.size + (this.journalBroken ? 1 : 0);
  }

  /** Whether L2 may be read: not while versions of ours still have to reach it. */
  l2Readable(): boolean {
    if (this.pending.size === 0) return true;
    this.scheduleReplay();
    return false;
  }

  async publish(updates: readonly Update[], opts: PublishOptions = {}): Promise<PublishReport> {
    const s = this.s;
    const t0 = performance.now();
    const applied: Applied[] = [];
    const wires: WireUpdate[] = [];
    let total = 0;
    for (const u of updates) {
      const bytes = u.value === null ? TOMBSTONE : s.codec(u.kind).encode(u.value);
      s.apply(u.kind, u.id, u.version, u.value, bytes.length);
      applied.push({ kind: u.kind, id: u.id, version: u.version, value: u.value });
      wires.push({ kind: u.kind, id: u.id, version: u.version, bytes });
      total += bytes.length;
    }
    s.n.published += updates.length;
    const messageId = `${this.instanceId}:${++this.seq}`;
    const note = opts.note;
    const l2 = s.l2;
    const report = (extra: Partial<PublishReport>): PublishReport => {
      const r: PublishReport = { pieces: updates.length, ms: performance.now() - t0, acks: 0, waitedForLeaseMs: 0, degraded: false, position: undefined, ...extra };
      s.events.emit('publish', { pieces: r.pieces, ms: r.ms, degraded: r.degraded });
      return r;
    };

    if (l2 === undefined || s.closed) {
      const position = opts.journal !== undefined ? this.memory?.append(opts.journal) : undefined;
      s.emitApplied(applied, 'local', note, position, messageId);
      s.events.emit('settled', { messageId });
      return report({ position });
    }

    // Stamped with the Redis time of now (after the commit, so never later than the data): a value that
    // reaches Redis only after an outage is then older than every instance's regained trust.
    const stamp = this.lease?.redisTimeAt(t0) ?? 0;
    const installs: Install[] = wires.map((w) => ({
      key: l2.pieceKey(w.kind, w.id),
      version: w.version,
      t: stamp,
      // Stored raw: a piece a write just changed is likely to change again soon, and deflating it on
      // every write would cost more CPU than its bytes are worth; loads store what they read deflated.
      data: packValue(w.bytes ?? TOMBSTONE, 0),
    }));
    // The coordination slot is where every lease is renewed: unreachable for longer than a lease, nobody
    // can trust L1 any more (on a cluster, another node's failure says nothing about that).
    const since = l2.coordinationUnreachableSince;
    if (since !== undefined && performance.now() > since + s.o.leaseMs + s.o.redisTimeoutMs) {
      this.degrade(installs, opts.journal !== undefined);
      s.emitApplied(applied, 'local', note, undefined, messageId);
      s.events.emit('settled', { messageId });
      return report({ degraded: true });
    }

    const busWires = total <= s.o.maxMessageBytes ? wires : wires.map((w) => ({ ...w, bytes: undefined }));
    const message = encodeUpdates(this.instanceId, messageId, stamp, busWires, note);
    const waiter = s.o.mode === 'fresh' ? this.acks.expect(messageId) : undefined;
    const [installed, reply] = await Promise.all([
      this.withRetry('install', 'pieces', () => Promise.all(installs.map((i) => l2.install(i.key, i.version, i.t, s.o.ttlMs, i.data, 'write')))),
      this.withRetry('broadcast', 'coordination', () => l2.broadcast(this.instanceId, message, opts.journal, s.o.journalRetentionMs)),
    ]);
    if (installed !== undefined) {
      for (const i of installs) {
        s.n.l2Bytes += i.data.length;
        s.n.l2Values++;
      }
    }
    if (reply === undefined) {
      waiter?.cancel();
      this.degrade(installed === undefined ? installs : [], opts.journal !== undefined);
      s.emitApplied(applied, 'local', note, undefined, messageId);
      s.events.emit('settled', { messageId });
      return report({ degraded: true });
    }
    // The broadcast went out but a piece's node did not take its install (a cluster master lost): the
    // other instances still have the message and are waited for as always; only Redis is owed it.
    if (installed === undefined) this.degrade(installs, false);
    const degraded = installed === undefined;
    const position = reply.position || undefined;
    s.emitApplied(applied, 'local', note, position, messageId);
    if (waiter === undefined) {
      s.events.emit('settled', { messageId });
      return report({ position, degraded });
    }

    const replyAt = performance.now();
    const expected = new Map<string, number>();
    // The script ran before replyAt, so expiry - now counted from replyAt is never too early.
    for (const [id, expiry] of reply.live) expected.set(id, replyAt + (expiry - reply.now) + 1);
    const out = await waiter.wait(expected, replyAt, s.o.ackTimeoutMs);
    if (out.silent.length > 0) {
      s.log.warn({ silent: out.silent, waitedForLeaseMs: Math.round(out.waitedForLeaseMs) }, 'cache instances did not acknowledge; waited for their leases to expire');
    }
    s.events.emit('settled', { messageId });
    // Only for instances that asked (they push to clients): it releases what they hold back until every
    // instance has the write. Nobody waits for it; one that misses it releases on its own after a lease.
    if (reply.settle) {
      l2.broadcast(this.instanceId, encodeControl('S', this.instanceId, messageId), undefined, s.o.journalRetentionMs).catch(() => undefined);
    }
    return report({ position, acks: out.acks, waitedForLeaseMs: out.waitedForLeaseMs, degraded });
  }

  /** Clear everywhere: every live instance flushes and acknowledges (waited for as a write is). */
  async broadcastClear(): Promise<boolean> {
    const l2 = this.s.l2;
    if (l2 === undefined) return true;
    const messageId = `${this.instanceId}:${++this.seq}`;
    const waiter = this.s.o.mode === 'fresh' ? this.acks.expect(messageId) : undefined;
    const reply = await this.withRetry('clear', 'coordination', () => l2.broadcast(this.instanceId, encodeControl('C', this.instanceId, messageId), undefined, this.s.o.journalRetentionMs));
    if (reply === undefined) {
      waiter?.cancel();
      return false;
    }
    if (waiter !== undefined) {
      const replyAt = performance.now();
      const expected = new Map<string, number>();
      for (const [id, expiry] of reply.live) expected.set(id, replyAt + (expiry - reply.now) + 1);
      await waiter.wait(expected, replyAt, this.s.o.ackTimeoutMs);
    }
    return true;
  }

  /** The versions of ours that Redis does not have yet, and (if notes were lost) the journal, are owed. */
  private degrade(installs: readonly Install[], journalLost: boolean): void {
    this.s.n.degraded++;
    for (const i of installs) {
      const cur = this.pending.get(i.key);
      if (cur === undefined || cur.version <= i.version) this.pending.set(i.key, i);
    }
    if (journalLost) this.journalBroken = true;
    this.scheduleReplay();
  }

  /**
   * Retries a Redis call until Redis' first failure + leaseMs + redisTimeoutMs. Returns undefined when
   * that passed without success: every instance's lease has lapsed by then (nobody could renew). A
   * write call waits up to a lease for its reply (a late reply still completes the write), so a retry
   * is raced against what is left of that window: otherwise it would get a whole lease of its own, and
   * the first writes of an outage would wait two windows instead of one.
   */
  private async withRetry<T>(op: string, target: Target, fn: () => Promise<T>): Promise<T | undefined> {
    const s = this.s;
    let firstFailure: number | undefined;
    let delay = 5;
    const giveUp = (err: unknown): undefined => {
      s.log.warn({ op, err: err instanceof Error ? err.message : String(err) }, 'cache could not reach redis; waited out every lease, queued for replay');
      if (s.events.has('error')) s.events.emit('error', { op, err });
      return undefined;
    };
    for (;;) {
      try {
        const attempt = fn();
        if (firstFailure === undefined) return await attempt;
        const out = await raceDeadline(attempt, this.deadline(firstFailure, target));
        if (out === WINDOW_OVER) return giveUp(new Error('redis unavailable: the outage window passed during a retry'));
        return out;
      } catch (err) {
        // Redis answered with an error: retrying the same call cannot help.
        if (err instanceof Error && err.name === 'ReplyError') {
          s.log.error({ op, err: err.message }, 'cache redis refused a call; queued for replay');
          if (s.events.has('error')) s.events.emit('error', { op, err });
          return undefined;
        }
        const now = performance.now();
        firstFailure ??= now;
        const deadline = this.deadline(firstFailure, target);
        if (now >= deadline || s.closed) return giveUp(err);
        await new Promise((r) => setTimeout(r, Math.min(delay, deadline - now)));
        delay = Math.min(delay * 2, 100);
      }
    }
  }

  /**
   * The end of an outage's window: from the first moment the call's target was seen unanswering, a
   * lease and a timeout. The coordination slot's own record is the one that bounds everyone's lease;
   * a piece's install has no lease to wait out (the broadcast carries the write to the instances), so on
   * a cluster it counts from its own first failure only.
   */
  private deadline(firstFailure: number, target: Target): number {
    const s = this.s;
    const since = target === 'coordination' ? s.l2?.coordinationUnreachableSince : s.l2?.piecesUnreachableSince;
    return Math.min(firstFailure, since ?? firstFailure) + s.o.leaseMs + s.o.redisTimeoutMs;
  }

  scheduleReplay(): void {
    if (this.timer !== undefined || this.s.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.replay();
    }, 100);
    this.timer.unref();
  }

  /** Sends the owed versions (compare-and-set: a newer one in Redis wins) and resets a broken journal. */
  async replay(): Promise<void> {
    const l2 = this.s.l2;
    if (this.replaying || l2 === undefined || this.s.closed || this.pendingReplays === 0) return;
    this.replaying = true;
    try {
      for (const [key, i] of [...this.pending]) {
        await l2.install(key, i.version, i.t, this.s.o.ttlMs, i.data, 'write');
        if (this.pending.get(key) === i) this.pending.delete(key);
      }
      if (this.journalBroken) {
        await l2.journalReset();
        this.journalBroken = false;
        this.s.events.emit('journalReset', {});
      }
      this.s.log.info('cache queued versions replayed into redis');
    } catch (err) {
      this.s.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'cache replay failed; will retry');
    } finally {
      this.replaying = false;
    }
    // Failed, or versions were queued while this pass ran (their own replay found it running and gave
    // up): another pass. Without it they would wait for the next read here, which may never come.
    if (this.pendingReplays > 0) this.scheduleReplay();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

/** What a retried call addresses: the coordination slot (broadcast, clear) or the pieces' slots. */
type Target = 'coordination' | 'pieces';

const WINDOW_OVER = Symbol('window over');

/** `p`, or WINDOW_OVER at `deadline` (performance.now() time) if it has not settled by then. */
function raceDeadline<T>(p: Promise<T>, deadline: number): Promise<T | typeof WINDOW_OVER> {
  p.catch(() => undefined); // a call raced out may still fail later: not an unhandled rejection
  let timer: NodeJS.Timeout | undefined;
  const over = new Promise<typeof WINDOW_OVER>((resolve) => (timer = setTimeout(() => resolve(WINDOW_OVER), Math.max(0, deadline - performance.now()))));
  return Promise.race([p, over]).finally(() => clearTimeout(timer));
}
