/**
 * Generic multi-level cache engine (L1 memory, L2 Redis, invalidation bus with acks and leases).
 * Design: the header of engine.ts; figures: the project README (npm run bench:cache).
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
