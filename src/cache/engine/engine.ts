import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AckTracker } from './coherence/acks.js';
import { Bus } from './coherence/bus.js';
import { Lease } from './coherence/lease.js';
import { Publisher } from './coherence/publisher.js';
import { decodeAck, decodeBusMessage, decodeSequenced, encodeAck } from './coherence/wire.js';
import { TypedEmitter } from './emitter.js';
import { MemoryJournal } from './journal/memory.js';
import { RedisJournal } from './journal/redis.js';
import { Derived } from './local/derived.js';
import { pieceKey } from './local/l1.js';
import { Reader } from './local/reader.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { RedisL2 } from './remote/l2.js';
import { EngineState } from './state.js';
import type {
  Applied,
  BatchLoader,
  CacheEvents,
  CacheStats,
  DerivedCache,
  DerivedOptions,
  Engine,
  EngineOptions,
  Entry,
  Found,
  JournalRead,
  LinkState,
  PublishOptions,
  PublishReport,
  Update,
} from './types.js';

/**
 * The engine: wiring of its parts, and the public methods, which delegate. Where each job lives:
 *   local/reader.ts        reads: L1, L2, loads in flight
 *   local/derived.ts       values derived from pieces, dropped when a piece changes
 *   coherence/publisher.ts writes: install, broadcast, acks, replay
 *   coherence/lease.ts     how long this instance may trust its memory
 *   coherence/bus.ts       the subscription; wire.ts what travels on it
 *   remote/l2.ts           Redis commands, breaker, slow vs unreachable; scripts.ts the Lua
 *   journal/*              the ordered log of write notes (positions clients resume from)
 * Design and guarantees: docs/cache-engine.md.
 */
export class VersionedEngine implements Engine {
  readonly name: string;
  readonly enabled: boolean;
  readonly events = new TypedEmitter<CacheEvents>();
  readonly instanceId = randomBytes(8).toString('hex');

  private readonly o: ResolvedOptions;
  private readonly log: Logger;
  private readonly s: EngineState;
  private readonly reader: Reader;
  private readonly publisher: Publisher;
  private readonly acks = new AckTracker();
  private readonly bus: Bus | undefined;
  private readonly lease: Lease | undefined;
  private readonly journal: RedisJournal | MemoryJournal;
  private readonly inbox: string;
  private readonly startedAt = performance.now();
  private everCoherent = false;
  private settles = false;
  /** The number of the last numbered message heard on our inbox (0: none yet), see onInbox. */
  private inboxSeq = 0;
  private readonly readyWaiters = new Set<() => void>();

  constructor(opts: EngineOptions) {
    this.o = resolveOptions(opts);
    this.name = this.o.name;
    this.enabled = this.o.enabled;
    this.log = opts.logger.child({ cache: this.o.name });
    const o = this.o;

    let l2: RedisL2 | undefined;
    if (o.enabled && o.redis !== undefined) {
      l2 = new RedisL2({
        target: o.redis,
        namespace: o.namespace,
        timeoutMs: o.redisTimeoutMs,
        // What a write waits for Redis at most before it degrades (publisher.ts).
        writeTimeoutMs: o.leaseMs + o.redisTimeoutMs,
        connectionName: `${o.namespace}:${o.name}:${this.instanceId}:cmd`,
        breakerThreshold: o.breakerThreshold,
        breakerCooldownMs: o.breakerCooldownMs,
        log: this.log,
        onState: (up) => this.onRedisState(up),
        onDisconnect: () => this.onRedisDisconnect(),
        onBreakerOpen: (failures) => {
          this.log.warn({ failures }, 'cache redis circuit breaker opened');
          this.events.emit('breakerOpen', { failures });
        },
      });
    }
    this.inbox = l2 ? l2.inboxPrefix + this.instanceId : '';
    // Memory only: nobody else writes, so this process is always coherent. Disabled: never.
    const trust = !o.enabled ? { trustUntil: -Infinity } : l2 === undefined ? { trustUntil: Infinity } : undefined;
    if (l2 !== undefined) {
      this.lease = new Lease({
        id: this.instanceId,
        leaseMs: o.leaseMs,
        marginMs: Math.max(10, Math.floor(o.leaseMs / 10)),
        inbox: this.inbox,
        l2,
        busUp: () => this.bus?.isUp ?? false,
        settles: () => this.settles,
        log: this.log,
        onRegained: (redisNow) => this.onRegained(redisNow),
        onLapsed: () => {
          this.log.warn('cache lease lapsed: L1 not served until the bus proves alive again');
          this.events.emit('coherence', { coherent: false });
        },
      });
    }
    this.s = new EngineState(o, this.log, this.events, l2, trust ?? this.lease!);
    if (trust?.trustUntil === Infinity) this.everCoherent = true;
    this.journal = l2 !== undefined ? new RedisJournal(l2) : new MemoryJournal(o.journalMax);
    this.publisher = new Publisher(this.s, this.instanceId, this.lease, this.acks, this.journal instanceof MemoryJournal ? this.journal : undefined);
    this.reader = new Reader(this.s, this.lease, () => this.publisher.l2Readable());

    if (l2 !== undefined && o.redis !== undefined) {
      this.bus = new Bus({
        target: o.redis,
        timeoutMs: o.redisTimeoutMs,
        connectionName: `${o.namespace}:${o.name}:${this.instanceId}:sub`,
        channel: this.inbox,
        log: this.log,
        onMessage: (message) => this.onInbox(message),
        onState: (up) => this.onBusState(up),
      });
      this.lease!.start();
    }
  }

  coherent(): boolean {
    return this.s.coherent();
  }

  get settleBoundMs(): number {
    return this.o.leaseMs + this.o.ackTimeoutMs + this.o.redisTimeoutMs;
  }

  peek<T>(kind: string, id: string): Entry<T> | undefined {
    return this.reader.peek<T>(kind, id);
  }

  async getMany<T>(kind: string, ids: readonly string[], loader: BatchLoader<T>, opts?: { fresh?: boolean; cachedOnly?: boolean }): Promise<Map<string, Found<T>>> {
    if (!this.enabled || this.s.closed) {
      if (opts?.cachedOnly) return new Map();
      const loaded = await loader([...new Set(ids)]);
      this.s.n.loads++;
      const out = new Map<string, Found<T>>();
      for (const [id, l] of loaded) out.set(id, { entry: { version: l.version, value: l.value }, source: 'load' });
      return out;
    }
    return this.reader.getMany(kind, ids, loader, opts?.fresh === true, opts?.cachedOnly === true);
  }

  publish(updates: readonly Update[], opts?: PublishOptions): Promise<PublishReport> {
    return this.publisher.publish(updates, opts);
  }

  wantSettlements(on: boolean): void {
    if (on === this.settles) return;
    this.settles = on;
    // Tell Redis now rather than at the next renewal, so that writers start announcing at once.
    if (on) void this.lease?.beat();
  }

  derived<V>(_name: string, opts: DerivedOptions<V>): DerivedCache<V> {
    return new Derived<V>(this.s, opts);
  }

  async journalHead(): Promise<string | undefined> {
    try {
      return await this.journal.head();
    } catch {
      return undefined;
    }
  }

  async journalRead(position: string, limit: number, rewindMs?: number): Promise<JournalRead | undefined> {
    return this.journal.read(position, limit, rewindMs);
  }

  async clear(): Promise<void> {
    if (!this.enabled) return;
    const l2 = this.s.l2;
    // Redis first: an instance that reads between its own flush and the sweep would take a piece
    // from before the clear back into its L1 (and keep serving it after clear() resolved).
    await l2?.sweep().catch((err: unknown) => this.log.warn({ err: String(err) }, 'cache clear: Redis sweep failed'));
    this.s.flush();
    this.events.emit('cleared', {});
    if (l2 === undefined) {
      (this.journal as MemoryJournal).reset();
      return;
    }
    const told = await this.publisher.broadcastClear();
    // Positions from before a clear are refused: a client resuming from one reloads its list.
    await l2.journalReset().catch(() => undefined);
    if (!told) this.log.warn('cache clear: other instances could not be told (they flush when their lease lapses)');
  }

  // ---------------------------------------------------------------- bus, lease, Redis state

  /** Another instance's write or clear; applied synchronously, then acknowledged. */
  private onBusMessage(raw: Buffer): void {
    const m = decodeBusMessage(raw);
    if (m === undefined || m.origin === this.instanceId) return;
    if (m.t === 'S') {
      this.events.emit('settled', { messageId: m.id });
      return;
    }
    if (m.t === 'U') {
      const applied: Applied[] = [];
      // Stamped before we last regained trust: a message that Redis held during an outage and delivers
      // now, while a later write of the same pieces may still be queued for replay. Its versions are
      // kept as floors (nothing older is stored), its values are not served.
      const late = m.stamp < this.s.l2TrustFromMs;
      const l1 = this.s.l1;
      for (const u of m.updates) {
        if (!this.o.kinds[u.kind]) continue;
        // Kept as received and decoded when first read (see local/l1.ts); a copy, since the message's
        // buffer would otherwise stay alive with it.
        const raw = u.bytes !== undefined && !late ? Buffer.from(u.bytes) : undefined;
        this.s.apply(u.kind, u.id, u.version, undefined, u.bytes?.length ?? 0, raw);
        const { kind, id, version } = u;
        // Decoded only if a listener reads it (a push to a connected member does; most writes concern
        // nobody connected here, and decoding each received piece cost more than the rest of applying it).
        applied.push({
          kind,
          id,
          version,
          get value(): unknown {
            if (raw === undefined) return undefined;
            const held = l1.get(pieceKey(kind, id));
            return held?.version === version ? held.value : undefined;
          },
        });
      }
      this.s.n.received += applied.length;
      this.s.emitApplied(applied, 'remote', m.note, m.position || undefined, m.id);
    } else {
      this.s.flush();
      this.events.emit('cleared', {});
    }
    // Applied above; now tell the writer. A failed ack only makes the writer wait for our lease.
    this.s.l2?.publish(this.s.l2.inboxPrefix + m.origin, encodeAck(m.id, this.instanceId)).catch(() => undefined);
  }

  /**
   * Our inbox: lease heartbeats (`hb:`), acks of our writes (`a:`), and other instances' messages.
   * Everything but acks is numbered by the script that published it: a number skipped is a message
   * lost on the way (a cluster subscriber moved to another node, a cluster-bus link dropped) while
   * the heartbeats that keep our lease go on arriving. What it carried may be in L1 in an older
   * version, so memory is dropped as on a regained lease, before this message extends anything.
   * (An ack lost costs nothing: its writer waits for our lease.)
   */
  private onInbox(raw: Buffer): void {
    const numbered = decodeSequenced(raw);
    if (numbered !== undefined) {
      const expected = this.inboxSeq + 1;
      this.inboxSeq = numbered.seq;
      if (expected !== 1 && numbered.seq !== expected) this.onMissedMessages(numbered.redisNow, numbered.seq - expected);
      raw = numbered.rest;
    }
    if (raw[0] === 0x68 /* h */ && raw[1] === 0x62 /* b */) {
      this.lease?.onEcho(raw.toString());
      return;
    }
    if (raw[0] === 0x61 /* a */ && raw[1] === 0x3a /* : */) {
      const a = decodeAck(raw.toString());
      if (a !== undefined) this.acks.onAck(a.messageId, a.from);
      return;
    }
    this.onBusMessage(raw);
  }

  /**
   * Messages to our inbox were lost. Every one was published before `redisNow` (one script at a time
   * on the coordination slot): flushing L1 and distrusting what Redis held before then leaves nothing
   * here that a lost write could have made stale.
   */
  private onMissedMessages(redisNow: number, skipped: number): void {
    this.log.warn({ skipped }, 'cache bus messages lost on the way: L1 flushed');
    this.s.flush();
    this.s.n.flushes++;
    this.s.l2TrustFromMs = Math.max(this.s.l2TrustFromMs, redisNow);
  }

  private onRegained(redisNow: number): void {
    // Anything in memory may have missed writes; loads in flight may have read old data.
    this.s.flush();
    if (this.everCoherent) this.s.n.flushes++;
    // Pieces stored in Redis before now may predate a write whose versions are still queued for
    // replay. Skipped for a first start that found Redis at once (a cold L2 on every deploy otherwise).
    if (this.everCoherent || performance.now() - this.startedAt > this.o.leaseMs) this.s.l2TrustFromMs = redisNow;
    const first = !this.everCoherent;
    this.everCoherent = true;
    if (!first) this.log.info('cache coherent again: L1 flushed');
    this.events.emit('coherence', { coherent: true });
    for (const w of this.readyWaiters) w();
    this.readyWaiters.clear();
  }

  /**
   * The command connection dropped: Redis may have restarted, or a cluster node failed over to a
   * replica that lacks the last writes. What Redis holds from before is distrusted from now on.
   */
  private onRedisDisconnect(): void {
    this.s.epoch++;
    const now = this.lease?.redisTimeAt(performance.now());
    if (now !== undefined) this.s.l2TrustFromMs = Math.max(this.s.l2TrustFromMs, now);
  }

  private onBusState(up: boolean): void {
    this.events.emit('busState', { state: up ? 'up' : 'down' });
    if (up) {
      this.log.info('cache bus subscribed');
      void this.lease?.beat(); // regain trust now rather than at the next tick
    } else {
      this.log.warn('cache bus disconnected: L1 not served until it is back');
      this.lease?.busDown();
    }
  }

  private onRedisState(up: boolean): void {
    this.events.emit('redisState', { state: up ? 'up' : 'down' });
    if (up) {
      void this.publisher.replay();
      void this.lease?.beat(); // the bus may have come up first: renew now that commands go through
    }
  }

  // ---------------------------------------------------------------- misc

  stats(): CacheStats {
    const l2 = this.s.l2;
    const n = this.s.n;
    const redis: LinkState = !this.enabled || l2 === undefined ? 'disabled' : l2.isUp ? 'up' : 'down';
    const bus: LinkState = !this.enabled || this.bus === undefined ? 'disabled' : this.bus.isUp ? 'up' : 'down';
    return {
      name: this.name,
      mode: this.o.mode,
      enabled: this.enabled,
      entries: this.s.l1.size,
      bytes: this.s.l1.bytes,
      capacity: this.o.l1MaxBytes,
      hits: { l1: n.l1Hits, l2: n.l2Hits },
      misses: n.misses,
      loads: n.loads,
      published: n.published,
      received: n.received,
      staleFillsRefused: n.staleFillsRefused,
      corruptEntries: n.corrupt,
      degradedPublishes: n.degraded,
      pendingReplays: this.publisher.pendingReplays,
      redis,
      bus,
      coherent: this.enabled && this.s.coherent(),
      breakerOpens: l2?.breaker.opens ?? 0,
      l1Flushes: n.flushes,
      l2BytesWritten: n.l2Bytes,
      l2ValuesWritten: n.l2Values,
    };
  }

  ready(timeoutMs = 5000): Promise<void> {
    if (!this.enabled || this.lease === undefined || this.lease.coherent) return Promise.resolve();
    if (this.s.closed) return Promise.reject(new Error(`cache ${this.name} is closed`));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        reject(new Error(`cache ${this.name} not coherent after ${timeoutMs} ms (redis or bus unreachable)`));
      }, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.s.closed) return;
    this.s.closed = true;
    this.lease?.stop();
    this.publisher.stop();
    // Leave the registry so that writers stop waiting for us at once (best effort).
    if (this.s.l2?.isConnected) await this.s.l2.unregister(this.instanceId).catch(() => undefined);
    this.bus?.close();
    this.s.l2?.close();
    this.s.l1.clear();
    this.events.removeAllListeners();
  }
}

export function createEngine(opts: EngineOptions): Engine {
  return new VersionedEngine(opts);
}
