import type { CacheMode, Codec, EngineOptions, RedisTarget } from './types.js';

/** Defaults and derived durations, in one place. */
export interface ResolvedOptions {
  name: string;
  namespace: string;
  kinds: Record<string, Codec<unknown>>;
  redis: RedisTarget | undefined;
  l1MaxBytes: number;
  ttlMs: number;
  mode: CacheMode;
  redisTimeoutMs: number;
  leaseMs: number;
  ackTimeoutMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  compressMinBytes: number;
  journalMax: number;
  /** How long journal notes are kept in Redis (trimmed by age). */
  journalRetentionMs: number;
  maxMessageBytes: number;
  enabled: boolean;
}

export const DEFAULTS = {
  mode: 'fresh' as CacheMode,
  redisTimeoutMs: 50,
  leaseMs: 2000,
  ackTimeoutMs: 250,
  breakerThreshold: 5,
  breakerCooldownMs: 1000,
  compressMinBytes: 512,
  journalMax: 100_000,
  journalRetentionMs: 10 * 60_000,
  maxMessageBytes: 256 * 1024,
};

export function resolveOptions(o: EngineOptions): ResolvedOptions {
  if (!Number.isFinite(o.ttlMs) || o.ttlMs < 0) throw new TypeError('ttlMs must be a number >= 0');
  if (!Number.isInteger(o.l1MaxBytes) || o.l1MaxBytes <= 0) throw new TypeError('l1MaxBytes must be a positive integer');
  const ttlMs = Math.ceil(o.ttlMs);
  return {
    name: o.name,
    namespace: o.namespace,
    kinds: o.kinds,
    redis: o.redis,
    l1MaxBytes: o.l1MaxBytes,
    ttlMs,
    mode: o.mode ?? DEFAULTS.mode,
    redisTimeoutMs: o.redisTimeoutMs ?? DEFAULTS.redisTimeoutMs,
    leaseMs: o.leaseMs ?? DEFAULTS.leaseMs,
    ackTimeoutMs: o.ackTimeoutMs ?? DEFAULTS.ackTimeoutMs,
    breakerThreshold: o.breakerThreshold ?? DEFAULTS.breakerThreshold,
    breakerCooldownMs: o.breakerCooldownMs ?? DEFAULTS.breakerCooldownMs,
    compressMinBytes: o.compressMinBytes ?? DEFAULTS.compressMinBytes,
    journalMax: o.journalMax ?? DEFAULTS.journalMax,
    journalRetentionMs: DEFAULTS.journalRetentionMs,
    maxMessageBytes: o.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
    // ttl 0 = disabled (never "default"): the seed's `ttl || default` turned 0 into a live cache.
    enabled: ttlMs > 0,
  };
}
