import type { Logger } from 'pino';
/** What the lease needs of Redis: the RENEW script (see remote/scripts.ts). */
export interface Renewer {
  renew(id: string, leaseMs: number, inbox: string, payload: string, settles: boolean): Promise<number>;
}

export interface LeaseOptions {
  id: string;
  leaseMs: number;
  /** Subtracted from every trust period: clock-rate differences between hosts, timer jitter. */
  marginMs: number;
  inbox: string;
  l2: Renewer;
  busUp: () => boolean;
  /** Whether this instance wants settlement messages (renewed with the lease). */
  settles: () => boolean;
  log: Logger;
  /**
   * Trust came back after a lapse (or for the first time). Called synchronously before trust is
   * extended, so the engine can flush L1 before anything is served again. `redisNowMs` is Redis TIME
   * at the renewal.
   */
  onRegained: (redisNowMs: number) => void;
  /** Trust ran out (noticed at the next heartbeat tick or bus drop). */
  onLapsed: () => void;
}

/** How soon a failed renewal is tried again (at most a third of the lease, the normal period). */
const RETRY_MS = 100;
/** How long after the first heartbeat heard past a lapse trust waits (see rejoined()). */
const REJOIN_SETTLE_MS = 4 * RETRY_MS;

/**
 * The instance lease (docs/cache-engine.md has the protocol and why it is safe).
 *
 * Every leaseMs/3: run `renew` (ZADD registry id now+lease, then PUBLISH a heartbeat on our own ack
 * channel, atomically). When the heartbeat comes back through our subscriber, the bus is proven alive
 * up to a moment after the renewal, and trust is extended to sentAt + leaseMs - margin, sentAt being
 * the local time the renewal was *sent* (earlier than it ran, so the bound is conservative).
 */
export class Lease {
  /** performance.now() deadline; 0 while the bus is down. Read on the hit path. */
  trustUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private beating = false;
  private wasCoherent = false;
  private everTrusted = false;
  /** When the first heartbeat since trust lapsed was heard: trust comes back with a later one (onEcho). */
  private rejoinFrom: number | undefined;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private readonly prefix: string;
  /** Redis TIME minus performance.now(), never more than the truth (see redisTimeAt). */
  private offset: number | undefined;

  constructor(private readonly o: LeaseOptions) {
    this.prefix = 'hb:';
  }

  get coherent(): boolean {
    return performance.now() < this.trustUntil;
  }

  start(): void {
    this.timer = setInterval(() => void this.beat(), Math.max(10, Math.floor(this.o.leaseMs / 3)));
    this.timer.unref();
    void this.beat();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
    if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
    this.timer = undefined;
    this.retry = undefined;
    this.rejoinTimer = undefined;
    this.trustUntil = 0;
  }

  /** The bus dropped: messages may be lost from now on, so trust ends now. */
  busDown(): void {
    this.trustUntil = 0;
    this.rejoinFrom = undefined;
    this.checkLapse();
  }

  async beat(): Promise<void> {
    this.checkLapse();
    // No renewal while the bus is down: it would only make writers wait longer for us, since we
    // cannot be trusted (and cannot ack) until the bus is back anyway.
    if (this.beating || !this.o.busUp()) return;
    this.beating = true;
    const sentAt = performance.now();
    try {
      const redisNow = await this.o.l2.renew(this.o.id, this.o.leaseMs, this.o.inbox, this.prefix + String(sentAt), this.o.settles());
      // The script ran between sentAt and now: redisNow - now is a lower bound of the clock offset.
      this.offset = redisNow - performance.now();
    } catch (err) {
      this.o.log.debug({ err: String(err) }, 'cache lease renewal failed');
      // Once more soon rather than at the next tick: a renewal refused in a passing moment (the command
      // connection not ready yet while the bus is, a slot moving) would otherwise cost a third of a
      // lease without trust, and a long lease's first renewal a third of it before ready().
      this.retrySoon();
    } finally {
      this.beating = false;
    }
  }

  private retrySoon(): void {
    if (this.retry !== undefined || this.timer === undefined) return;
    this.retry = this.beatIn(Math.min(RETRY_MS, Math.floor(this.o.leaseMs / 3)), () => (this.retry = undefined));
  }

  /** One beat more, `ms` from now, besides the periodic ones; `fired` clears the caller's handle. */
  private beatIn(ms: number, fired: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      fired();
      void this.beat();
    }, ms);
    t.unref();
    return t;
  }

  /**
   * Redis TIME at the local moment `localMs` (performance.now()), never later than the truth: what a
   * piece read from the source then is stamped with in Redis. Undefined before the first renewal.
   */
  redisTimeAt(localMs: number): number | undefined {
    return this.offset === undefined ? undefined : Math.floor(localMs + this.offset);
  }

  /** A heartbeat came back on our ack channel: `hb:<sentAt>:<redisNowMs>`. */
  onEcho(payload: string): void {
    const sep = payload.indexOf(':', this.prefix.length);
    const sentAt = Number(payload.slice(this.prefix.length, sep));
    const redisNow = Number(payload.slice(sep + 1));
    if (sep < 0 || !Number.isFinite(sentAt) || !Number.isFinite(redisNow)) return;
    const now = performance.now();
    const until = sentAt + this.o.leaseMs - this.o.marginMs;
    // A heartbeat delayed past its own trust period (e.g. queued in a paused Redis) proves nothing useful.
    if (sentAt > now || until <= now || !this.o.busUp()) return;
    if (now >= this.trustUntil) {
      if (this.everTrusted && !this.rejoined(sentAt, now)) return;
      this.o.onRegained(redisNow);
    }
    if (until > this.trustUntil) this.trustUntil = until;
    this.wasCoherent = true;
    this.everTrusted = true;
  }

  /**
   * Back after a lapse, trust returns with a heartbeat *sent* a moment after the first one was heard,
   * not with that first one (nor with renewals a paused Redis queued and now answers in a burst).
   * Redis coming back is not seen by every instance at once: one whose own connection or breaker has
   * not noticed yet still finds the coordination slot unreachable for more
   * than a lease, and answers its writes without telling anyone (coherence/publisher.ts). Its renewals
   * are retried every RETRY_MS; by the second heartbeat it has renewed, and writes it answered before
   * that committed before this instance's flush, so loads after it see them. (It shrinks that race
   * to an instance that cannot reach Redis for longer than the settling time while this one can: the
   * partition limit of docs/cache-engine.md.)
   */
  private rejoined(sentAt: number, now: number): boolean {
    const settle = Math.min(REJOIN_SETTLE_MS, Math.floor(this.o.leaseMs / 3));
    if (this.rejoinFrom === undefined || now > this.rejoinFrom + this.o.leaseMs) {
      this.rejoinFrom = now;
      if (this.rejoinTimer === undefined && this.timer !== undefined) this.rejoinTimer = this.beatIn(settle, () => (this.rejoinTimer = undefined));
      return false;
    }
    if (sentAt < this.rejoinFrom + settle) return false;
    this.rejoinFrom = undefined;
    return true;
  }

  private checkLapse(): void {
    if (this.wasCoherent && performance.now() >= this.trustUntil) {
      this.wasCoherent = false;
      this.o.onLapsed();
    }
  }
}
