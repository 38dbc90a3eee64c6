import type { Logger } from 'pino';
import type { TypedEmitter } from './emitter.js';
import { L1, pieceKey, type L1Entry } from './local/l1.js';
import type { RedisL2 } from './remote/l2.js';
import type { Applied, CacheEvents, Codec } from './types.js';
import type { ResolvedOptions } from './options.js';

/** What every part of one engine shares: memory, Redis, the trust in memory, counters. */
export class EngineState {
  readonly l1: L1;
  /**
   * Bumped whenever this process may have missed writes (a lapsed lease regained, a Redis reconnect)
   * and by clear(): loads that started before may not be stored or shared.
   */
  epoch = 0;
  /** Redis ms: pieces stored in Redis before this were stored before we last regained trust. */
  l2TrustFromMs = 0;
  closed = false;
  /** Local deadline (performance.now()) until which L1 may be served: the lease, or a constant. */
  readonly trust: { trustUntil: number };
  /** Listeners of every version applied in this process (derived caches, flights). */
  readonly changeListeners: Array<(key: string, version: number) => void> = [];
  readonly flushListeners: Array<() => void> = [];

  readonly n = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    loads: 0,
    published: 0,
    received: 0,
    staleFillsRefused: 0,
    corrupt: 0,
    degraded: 0,
    flushes: 0,
    l2Bytes: 0,
    l2Values: 0,
  };

  constructor(
    readonly o: ResolvedOptions,
    readonly log: Logger,
    readonly events: TypedEmitter<CacheEvents>,
    readonly l2: RedisL2 | undefined,
    trust: { trustUntil: number },
  ) {
    this.l1 = new L1(o.l1MaxBytes, Math.max(1, o.ttlMs));
    this.trust = trust;
  }

  coherent(): boolean {
    return performance.now() < this.trust.trustUntil;
  }

  codec(kind: string): Codec<unknown> {
    const c = this.o.kinds[kind];
    if (!c) throw new TypeError(`unknown piece kind ${JSON.stringify(kind)}`);
    return c;
  }

  /**
   * Applies a new version here, synchronously: into L1 (a value, or a floor when only the version is
   * known), then tells the listeners, also when L1 already knew that version or a newer one (see
   * local/derived.ts why that still matters).
   */
  apply(kind: string, id: string, version: number, value: unknown, bytes: number, raw?: Buffer): void {
    const key = pieceKey(kind, id);
    const entry: L1Entry = raw === undefined ? { version, value, bytes } : { version, value: undefined, bytes, raw, decode: this.codec(kind).decode };
    this.l1.offer(key, entry, this.o.ttlMs);
    for (const l of this.changeListeners) l(key, version);
  }

  /** Forgets everything this process keeps; loads in flight may not store or be shared. */
  flush(): void {
    this.epoch++;
    this.l1.clear();
    for (const l of this.flushListeners) l();
  }

  emitApplied(updates: Applied[], origin: 'local' | 'remote', note: Buffer | undefined, position: string | undefined, messageId: string): void {
    if (updates.length > 0 || note !== undefined) this.events.emit('applied', { updates, origin, note, position, messageId });
  }
}
