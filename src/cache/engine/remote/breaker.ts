/**
 * A small circuit breaker for the Redis command connection.
 *
 * Hand-written on purpose: it is ~40 lines, and the Node breaker libraries either wrap a function with
 * their own timeout (the calls already have one, deadline.ts, and two timers would disagree) or do not
 * give a single half-open probe that we can hand to whichever call comes first (a get, a heartbeat).
 *
 * closed --(threshold consecutive failures)--> open --(cooldown)--> half-open: one probe call allowed;
 * its success closes the breaker, its failure re-opens it for another cooldown.
 */
export class Breaker {
  private failures = 0;
  private openedAt = 0;
  private state: 'closed' | 'open' | 'half-open' = 'closed';
  opens = 0;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly onOpen: (failures: number) => void,
    private readonly onClose: () => void,
  ) {}

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /**
   * May a call go to Redis now? After a cooldown one caller gets a yes (the probe); the others keep
   * getting no until the probe reports, or another cooldown passes (a probe that never reports must
   * not wedge the breaker).
   */
  allow(): boolean {
    if (this.state === 'closed') return true;
    const now = performance.now();
    if (now - this.openedAt >= this.cooldownMs) {
      this.state = 'half-open';
      this.openedAt = now;
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.onClose();
    }
  }

  failure(): void {
    this.failures++;
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.threshold)) {
      const wasClosed = this.state === 'closed';
      this.state = 'open';
      this.openedAt = performance.now();
      if (wasClosed) {
        this.opens++;
        this.onOpen(this.failures);
      }
    }
  }
}
