/**
 * Per-call deadlines for Redis commands, with one timer for all calls in flight.
 *
 * Why not ioredis' commandTimeout: its timer fires in the timers phase, *before* the poll phase reads
 * a reply that may already sit in the socket. After any event-loop stall (GC, a busy request, a
 * starved CPU) every command in flight would then time out although Redis answered in time, and the
 * breaker would open on a healthy Redis. Here an expiry is decided in a setImmediate, which runs after
 * that poll. A hung Redis still costs timeoutMs plus at most one loop turn.
 *
 * Why one timer: every call has the same timeout, so deadlines come in order and a FIFO is enough;
 * a timer (and a clearTimeout) per command would be the largest fixed cost of an L2 hit after the
 * socket write.
 */
export class Deadlines {
  private readonly q: Array<Pending | undefined> = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private expiring = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly timeoutError: Error,
  ) {}

  track<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const item: Pending = { at: performance.now() + this.timeoutMs, done: false, reject };
      this.q.push(item);
      this.arm();
      p.then(
        (v) => {
          if (item.done) return;
          item.done = true;
          resolve(v);
        },
        (err: unknown) => {
          if (item.done) return;
          item.done = true;
          reject(err);
        },
      );
    });
  }

  private arm(): void {
    if (this.timer !== undefined || this.expiring) return;
    const first = this.q[this.head];
    if (first === undefined) return;
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(first.at - performance.now())));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.expiring = true;
    setImmediate(this.expire); // after this turn's I/O poll: replies already received win
  };

  private readonly expire = (): void => {
    this.expiring = false;
    const now = performance.now();
    while (this.head < this.q.length) {
      const it = this.q[this.head]!;
      if (!it.done && it.at > now) break;
      this.q[this.head++] = undefined;
      if (!it.done) {
        it.done = true;
        it.reject(this.timeoutError);
      }
    }
    if (this.head === this.q.length) {
      this.q.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q.splice(0, this.head);
      this.head = 0;
    }
    this.arm();
  };
}

interface Pending {
  at: number;
  done: boolean;
  reject: (err: unknown) => void;
}
