import { EventEmitter } from 'node:events';

/**
 * EventEmitter with typed payloads (one object argument per event). `emit` is a no-op when nobody
 * listens, so callers may build payloads lazily behind `has()`, and an unheard 'error' never throws
 * (Node's EventEmitter throws on an 'error' without a listener; a cache must not crash its host).
 */
export class TypedEmitter<E extends { [K in keyof E]: object }> {
  private readonly ee = new EventEmitter();
  /** Listener counts kept by the meta-events, so has() is a property read (used on the hit path). */
  private readonly counts: Record<string, number> = Object.create(null) as Record<string, number>;

  constructor() {
    this.ee.on('newListener', (ev: string | symbol) => {
      if (typeof ev === 'string') this.counts[ev] = (this.counts[ev] ?? 0) + 1;
    });
    this.ee.on('removeListener', (ev: string | symbol) => {
      if (typeof ev === 'string') this.counts[ev] = Math.max(0, (this.counts[ev] ?? 0) - 1);
    });
  }

  on<K extends keyof E & string>(event: K, fn: (payload: E[K]) => void): this {
    this.ee.on(event, fn);
    return this;
  }

  once<K extends keyof E & string>(event: K, fn: (payload: E[K]) => void): this {
    this.ee.once(event, fn);
    return this;
  }

  off<K extends keyof E & string>(event: K, fn: (payload: E[K]) => void): this {
    this.ee.off(event, fn);
    return this;
  }

  has(event: keyof E & string): boolean {
    return (this.counts[event] ?? 0) > 0;
  }

  listenerCount(event: keyof E & string): number {
    return this.ee.listenerCount(event);
  }

  emit<K extends keyof E & string>(event: K, payload: E[K]): void {
    if (this.ee.listenerCount(event) === 0) return;
    try {
      this.ee.emit(event, payload);
    } catch {
      // A throwing listener is the listener's bug; it must not break a cache operation.
    }
  }

  removeAllListeners(): void {
    for (const ev of this.ee.eventNames()) {
      if (ev !== 'newListener' && ev !== 'removeListener') this.ee.removeAllListeners(ev);
    }
  }
}
