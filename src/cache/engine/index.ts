/**
 * Generic multi-level cache engine (L1 memory, L2 Redis, invalidation bus with acks and leases).
 * Design and figures: ./README.md.
 */
export { createCacheEngine } from './engine.js';
export type { TypedEmitter } from './emitter.js';
export type {
  CacheEngine,
  CacheEngineOptions,
  CacheEntry,
  CacheEvents,
  CacheMode,
  CacheSource,
  CacheStats,
  GetResult,
  InvalidationReport,
  LinkState,
  LoadedValue,
  Loader,
  WriteHold,
} from './types.js';
