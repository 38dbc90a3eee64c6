/**
 * Generic cache engine for versioned pieces of state: L1 memory, L2 Redis (or Redis Cluster), a bus
 * with acknowledgements and leases, values derived from pieces, and a journal of write notes.
 * Design: docs/cache-engine.md; figures: the project README (npm run bench:cache).
 */
export { createEngine } from './engine.js';
export type { TypedEmitter } from './emitter.js';
export type * from './types.js';
