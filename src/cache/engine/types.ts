import type { Logger } from 'pino';
import type { TypedEmitter } from './emitter.js';

/**
 * The engine caches *versioned pieces of state*: a piece is (kind, id) -> value at a version that its
 * source (the database) assigns, in commit order. Because a value at version V is the whole truth at
 * V, the rules are few: a level never replaces a newer version with an older one, a write installs
 * its new versions everywhere before it answers, and an instance that may have missed a write stops
 * trusting its memory. Design: docs/cache-engine.md.
 */

/** How one kind of piece is stored: bytes for Redis and the bus, a decoded value in memory. */
export interface Codec<T> {
  encode(value: T): Buffer;
  /** Throws on bytes it does not recognise (the engine then treats the piece as missing). */
  decode(bytes: Buffer): T;
}

/** A piece as a level holds it. `value` null: the piece does not exist at this version (a tombstone). */
export interface Entry<T> {
  readonly version: number;
  readonly value: T | null;
}

export interface Loaded<T> {
  version: number;
  value: T | null;
}

/** Loads the pieces `ids` of one kind from the source; ids it leaves out do not exist (not cached). */
export type BatchLoader<T> = (ids: string[]) => Promise<Map<string, Loaded<T>>>;

export type Source = 'l1' | 'l2' | 'load';

export interface Found<T> {
  entry: Entry<T>;
  source: Source;
}

/** A write's new version of a piece. */
export interface Update {
  kind: string;
  id: string;
  version: number;
  value: unknown;
}

/** A piece changed on this instance (a write of its own, or one received from another instance). */
export interface Applied {
  kind: string;
  id: string;
  version: number;
  /** Decoded value, or undefined when the message carried only the version (large writes). */
  value: unknown;
}

/**
 * What the writer's publish() leaves for the others besides the pieces: an opaque note on the bus (for
 * subscribers such as a push), and one for the journal, a bounded ordered log of notes whose
 * positions are assigned by Redis in the order every instance receives the messages (what a client
 * resumes from).
 */
export interface PublishOptions {
  note?: Buffer;
  journal?: Buffer;
}

export interface PublishReport {
  pieces: number;
  ms: number;
  /** Other instances that acknowledged. */
  acks: number;
  waitedForLeaseMs: number;
  /** Redis could not be reached: the new versions wait in a replay queue (see docs/cache-engine.md). */
  degraded: boolean;
  /** The note's journal position, when it was journaled. */
  position: string | undefined;
}

export type CacheMode = 'fresh' | 'fast';
export type LinkState = 'up' | 'down' | 'disabled';

export interface EngineOptions {
  /** For logs and metrics only. */
  name: string;
  /** Prefix of every Redis key and channel; instances sharing data must share it. */
  namespace: string;
  /** The kinds of pieces and their codecs. */
  kinds: Record<string, Codec<unknown>>;
  /** No Redis = memory only (one process: nobody else can write). */
  redis?: RedisTarget | undefined;
  /** L1 budget in bytes, shared by pieces and derived values. */
  l1MaxBytes: number;
  /** Lifetime of a piece in L1 and L2. 0 disables the engine (every read loads, nothing is stored). */
  ttlMs: number;
  /** 'fresh' (default): publish() waits for acks or leases. 'fast': pub/sub only (weaker). */
  mode?: CacheMode;
  /** Bound on every Redis command (@default 50). */
  redisTimeoutMs?: number;
  /** How long an instance may trust its L1 without a fresh proof that its bus is alive (@default 2000). */
  leaseMs?: number;
  /** How long publish() waits for acks before reporting the rest as waiting for leases (@default 250). */
  ackTimeoutMs?: number;
  /** Consecutive unreachable-Redis failures that open the circuit breaker (@default 5). */
  breakerThreshold?: number;
  /** @default 1000 */
  breakerCooldownMs?: number;
  /** L2 values at least this long are stored deflated (@default 512; 0: never). */
  compressMinBytes?: number;
  /** Notes kept in the journal (@default 100000). */
  journalMax?: number;
  /** A publish whose values exceed this many bytes sends versions only (@default 262144). */
  maxMessageBytes?: number;
  logger: Logger;
}

/** One Redis server, or the seed nodes of a Redis Cluster. */
export type RedisTarget = { url: string } | { cluster: Array<{ host: string; port: number }> };

export interface CacheStats {
  name: string;
  mode: CacheMode;
  enabled: boolean;
  entries: number;
  bytes: number;
  capacity: number;
  hits: { l1: number; l2: number };
  misses: number;
  loads: number;
  /** Pieces this instance's writes published. */
  published: number;
  /** Pieces received from other instances' writes. */
  received: number;
  staleFillsRefused: number;
  corruptEntries: number;
  degradedPublishes: number;
  pendingReplays: number;
  redis: LinkState;
  bus: LinkState;
  coherent: boolean;
  breakerOpens: number;
  l1Flushes: number;
  /** Bytes and count of values in Redis as this instance stored them (after compression). */
  l2BytesWritten: number;
  l2ValuesWritten: number;
}

export interface CacheEvents {
  hit: { level: 'l1' | 'l2'; kind: string };
  miss: { kind: string; count: number };
  load: { kind: string; ms: number; count: number };
  /** Pieces changed here, by a local write or a remote one (applied before the ack is sent). */
  applied: { updates: readonly Applied[]; origin: 'local' | 'remote'; note: Buffer | undefined; position: string | undefined; messageId: string };
  /**
   * A write has been applied by every live instance: this instance's own (after its acks), or another
   * one's when announced (see Engine.wantSettlements).
   */
  settled: { messageId: string };
  publish: { pieces: number; ms: number; degraded: boolean };
  staleFillRefused: { kind: string; id: string };
  redisState: { state: 'up' | 'down' };
  busState: { state: 'up' | 'down' };
  /** coherent false: L1 is not served until the bus proves alive; true: L1 was flushed and trusted again. */
  coherence: { coherent: boolean };
  /** The whole cache was cleared (here or elsewhere): derived values and journals start over. */
  cleared: Record<string, never>;
  /** Some writes could not be journaled: positions from before are no longer complete. */
  journalReset: Record<string, never>;
  breakerOpen: { failures: number };
  error: { op: string; err: unknown };
}

export interface JournalRead {
  /** Notes after the position, oldest first, with their positions. */
  notes: Array<{ position: string; note: Buffer }>;
  /** Where the next read starts. */
  next: string;
  /** More notes exist after `next`. */
  more: boolean;
}

export interface Engine {
  readonly name: string;
  readonly enabled: boolean;
  readonly events: TypedEmitter<CacheEvents>;
  readonly instanceId: string;
  /** Whether L1 may be served now (memory only: always; disabled: never). */
  coherent(): boolean;
  /** L1 only, synchronous. Undefined when absent, a version floor only, or not coherent. */
  peek<T>(kind: string, id: string): Entry<T> | undefined;
  /**
   * L1, then L2, then the loader for what is still missing; at most one load per piece in flight.
   * `fresh`: straight to the loader (the levels hold the piece at its version, but the caller needs a
   * newer reading of it, or already looked in them), and the result replaces what the levels hold of
   * the same version. `cachedOnly`: L1 and L2 only, the loader is not called (pieces not found are
   * left out).
   */
  getMany<T>(kind: string, ids: readonly string[], loader: BatchLoader<T>, opts?: { fresh?: boolean; cachedOnly?: boolean }): Promise<Map<string, Found<T>>>;
  /** Installs new versions in every level of every instance; resolves once they are served everywhere. */
  publish(updates: readonly Update[], opts?: PublishOptions): Promise<PublishReport>;
  /**
   * Whether this instance wants 'settled' events for other instances' writes (it pushes to clients and
   * must not push a write before every instance serves it). Writers announce settlement only while
   * some instance wants it; without the announcement 'settled' never comes for a remote write.
   */
  wantSettlements(on: boolean): void;
  /** The journal's current end (a position), or undefined when it cannot be read now. */
  journalHead(): Promise<string | undefined>;
  /**
   * Notes after `position` (and those of the `rewindMs` before it, see journal/redis.ts); undefined
   * when the position is too old, malformed, or from before a reset.
   */
  journalRead(position: string, limit: number, rewindMs?: number): Promise<JournalRead | undefined>;
  /** How long a write's message may take to reach every instance before they stop trusting memory. */
  readonly settleBoundMs: number;
  /** Drops every piece everywhere (L1 of every instance, L2) and starts the journal over. */
  clear(): Promise<void>;
  /**
   * A cache of values derived from pieces (a composed page, say), in this process only: a value is
   * dropped as soon as a piece it was derived from changes here, and never stored if one changed
   * while it was being derived (see local/derived.ts).
   */
  derived<V>(name: string, opts: DerivedOptions<V>): DerivedCache<V>;
  stats(): CacheStats;
  /** Resolves once coherent (at once when memory only or disabled); rejects after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface DerivedOptions<V> {
  maxBytes: number;
  sizeOf(value: V): number;
}

/** Taken before a value is derived; set() stores the value only if nothing it depends on changed since. */
export interface DerivedToken {
  readonly owner: string;
}

export interface DerivedCache<V> {
  /** Synchronous; undefined when absent or when the engine is not coherent. */
  peek(owner: string, variant: string): V | undefined;
  /** `pieces`: what the owner's values depend on, declared before anything is read (its own piece, say). */
  begin(owner: string, pieces?: readonly string[]): DerivedToken;
  /** The pieces (`kind:id`) the owner's values are derived from; replaces what was declared before. */
  dependOn(token: DerivedToken, pieces: readonly string[]): void;
  set(token: DerivedToken, variant: string, value: V): boolean;
  /** Drops the owner's values (something they depend on changed in a way pieces do not show). */
  drop(owner: string): void;
  readonly size: number;
  readonly bytes: number;
}
