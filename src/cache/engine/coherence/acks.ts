/**
 * Collects acknowledgements of bus messages, per message id. A waiter is registered before the
 * message is published (an ack may arrive before the script's reply does).
 */
export class AckTracker {
  private readonly waiters = new Map<string, AckWaiter>();

  expect(msgId: string): AckWaiter {
    const w = new AckWaiter(() => this.waiters.delete(msgId));
    this.waiters.set(msgId, w);
    return w;
  }

  onAck(msgId: string, from: string): void {
    this.waiters.get(msgId)?.add(from);
  }

  get pending(): number {
    return this.waiters.size;
  }
}

export interface AckOutcome {
  acks: number;
  /** Instances that never acked (their lease ran out instead). */
  silent: string[];
  /** Time waited beyond ackTimeoutMs. */
  waitedForLeaseMs: number;
}

export class AckWaiter {
  private readonly acked = new Set<string>();
  private wake: (() => void) | undefined;

  constructor(private readonly done: () => void) {}

  add(from: string): void {
    this.acked.add(from);
    this.wake?.();
  }

  /**
   * Waits until every expected instance has either acked or reached its lease expiry (a local
   * performance.now() deadline): an instance past its lease no longer serves its L1 by itself.
   *
   * An ack that comes after ackTimeoutMs still ends the wait for that instance (it is as good a proof
   * as an early one), so ackTimeoutMs only decides what is reported as waiting for leases.
   */
  async wait(expected: ReadonlyMap<string, number>, startedAt: number, ackTimeoutMs: number): Promise<AckOutcome> {
    try {
      for (;;) {
        const now = performance.now();
        let next = Infinity;
        for (const [id, expiresAt] of expected) {
          if (!this.acked.has(id) && now < expiresAt && expiresAt < next) next = expiresAt;
        }
        if (next === Infinity) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, Math.ceil(next - now)));
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    } finally {
      this.done();
    }
    const silent: string[] = [];
    for (const id of expected.keys()) if (!this.acked.has(id)) silent.push(id);
    return {
      acks: expected.size - silent.length,
      silent,
      waitedForLeaseMs: Math.max(0, performance.now() - (startedAt + ackTimeoutMs)),
    };
  }

  cancel(): void {
    this.done();
  }
}
