import type { Logger } from 'pino';
import type { TypedEmitter } from './emitter.js';

/**
 * One cached variant. `value` is already encoded by the caller (the engine never parses it), so an L1
 * hit hands back the very Buffer that was stored. `storedAt` is a wall-clock ms stamp: Redis TIME when
 * the entry went through Redis, the local clock otherwise.
 */
export interface CacheEntry {
  readonly value: Buffer;
  readonly meta: string;
  readonly storedAt: number;
}

export interface LoadedValue {
  value: Buffer;
  meta: string;
}

export type Loader = () => Promise<LoadedValue>;
export type CacheSource = 'l1' | 'l2' | 'load';
export type CacheMode = 'fresh' | 'fast';
export type LinkState = 'up' | 'down' | 'disabled';

export interface GetResult {
  entry: CacheEntry;
  source: CacheSource;
}

export interface CacheEngineOptions {
  /** For logs and metrics only. */
  name: string;
  /** Prefix of every Redis key and channel; engines sharing data must share it. */
  namespace: string;
  /** No URL = memory only (single process assumed: nobody else can invalidate). */
  redisUrl?: string;
  /** L1 budget in bytes (values + meta + keys + a fixed per-entry overhead). */
  l1MaxBytes: number;
  /** Lifetime of an entry in L1 and L2. 0 disables the engine (every get loads, nothing is stored). */
  ttlMs: number;
  /** 'fresh' (default): invalidate() waits for acks or leases. 'fast': pub/sub only (weaker). */
  mode?: CacheMode;
  /** Per Redis command; a hung Redis delays a get by about this much, once, before the breaker opens. */
  redisTimeoutMs?: number;
  /** How long an instance may trust its L1 without a fresh proof that its bus is alive. */
  leaseMs?: number;
  /** How long invalidate() waits for acks before falling back to waiting out the silent instances' leases. */
  ackTimeoutMs?: number;
  breakerThreshold?: number;
  breakerCooldownMs?: number;
  /** Longest a hold (see CacheEngine.hold) keeps its groups from being stored; default 5000. */
  holdMs?: number;
  logger: Logger;
}

export interface InvalidationReport {
  /** Number of groups invalidated. */
  groups: number;
  /** Wall time of the whole call. */
  ms: number;
  /** Other instances that acknowledged. */
  acks: number;
  /** Time spent waiting for the leases of instances that did not acknowledge in time. */
  waitedForLeaseMs: number;
  /** Redis could not be reached: the call waited out every lease and queued the invalidation for replay. */
  degraded: boolean;
}

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
  /** Groups invalidated by this instance's invalidate() calls. */
  invalidations: number;
  /** Groups invalidated by other instances (received on the bus). */
  remoteInvalidations: number;
  staleFillsRefused: number;
  /** L2 values that could not be decoded (treated as misses). */
  corruptEntries: number;
  /** invalidate()/clear() calls that could not reach Redis and were queued for replay. */
  degradedInvalidations: number;
  /** Invalidations/clears waiting to be replayed into Redis. */
  pendingReplays: number;
  redis: LinkState;
  bus: LinkState;
  coherent: boolean;
  breakerOpens: number;
  /** Times the L1 was flushed because coherence was lost and regained. */
  l1Flushes: number;
}

export interface CacheEvents {
  hit: { level: 'l1' | 'l2' };
  miss: { group: string; field: string };
  load: { ms: number };
  invalidate: { groups: number; ms: number; degraded: boolean };
  staleFillRefused: { group: string; field: string; reason: 'local' | 'cas' | 'age' };
  redisState: { state: 'up' | 'down' };
  busState: { state: 'up' | 'down' };
  coherence: { coherent: boolean };
  breakerOpen: { failures: number };
  error: { op: string; err: unknown };
}

/**
 * A write in progress on some groups (see CacheEngine.hold). Exactly one of commit() or abort() must
 * be called.
 */
export interface WriteHold {
  /**
   * The write has committed. Resolves once every process serves the new values of `groups`: at once
   * when the hold covered them, was in place everywhere and is still valid (the release then runs in
   * the background); otherwise after a full invalidate().
   */
  commit(groups: readonly string[]): Promise<InvalidationReport>;
  /** The write did not happen: lifts the hold (in the background). */
  abort(): void;
  /**
   * True when Redis already holds every one of `groups` (the script ran) and at least half of the
   * hold's time is left: from now on, a writer that dies after its commit leaves nothing stale behind
   * (the invalidation is done; loads until the hold expires are not stored), provided the commit
   * completes within that remaining half. What a durable record of the debt (an outbox) is for.
   */
  inRedis(groups: readonly string[]): boolean;
}

export interface CacheEngine {
  readonly name: string;
  readonly enabled: boolean;
  readonly events: TypedEmitter<CacheEvents>;
  /** L1 only, synchronous; undefined when absent or when this instance is not coherent. */
  peek(group: string, field: string): CacheEntry | undefined;
  get(group: string, field: string, loader: Loader): Promise<GetResult>;
  invalidate(groups: readonly string[]): Promise<InvalidationReport>;
  /**
   * For a write about to change these groups: invalidates them everywhere now and holds them — no
   * process stores a value of theirs — until the write commits or aborts. The invalidation then runs
   * while the write's transaction does, instead of after it.
   */
  hold(groups: readonly string[]): WriteHold;
  clear(): Promise<void>;
  stats(): CacheStats;
  /** Resolves once coherent (at once when memory only or disabled); rejects after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}
