import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './types.js';

/** Separates group and field in an L1 key. Groups must not contain it (checked where groups come in). */
export const SEP = '\u0000';

/** Bytes charged per entry on top of value, meta and key: the LRU node, the entry object, index slots. */
export const ENTRY_OVERHEAD_BYTES = 64;

/**
 * The in-process level: an LRU bounded by bytes, plus an index group -> keys so that dropping a group
 * touches only its own entries (no scan). The index is kept in step with the LRU through `dispose`,
 * so evictions and expiries remove their keys too.
 */
export class L1 {
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly byGroup = new Map<string, Set<string>>();

  constructor(maxBytes: number, ttlMs: number) {
    this.lru = new LRUCache<string, CacheEntry>({
      maxSize: maxBytes,
      ttl: ttlMs,
      // No timers: expired entries are dropped when touched or pushed out by the LRU.
      ttlAutopurge: false,
      updateAgeOnGet: false,
      allowStale: false,
      sizeCalculation: (v, k) => v.value.length + v.meta.length + k.length + ENTRY_OVERHEAD_BYTES,
      dispose: (_v, k, reason) => {
        // 'set' = replaced by a newer value under the same key: the key stays indexed.
        if (reason !== 'set') this.unindex(k);
      },
    });
  }

  /** The hit path: nothing but the LRU lookup. */
  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  set(group: string, key: string, entry: CacheEntry, ttlMs: number): void {
    this.lru.set(key, entry, { ttl: ttlMs });
    if (this.lru.has(key)) {
      let keys = this.byGroup.get(group);
      if (!keys) this.byGroup.set(group, (keys = new Set()));
      keys.add(key);
    } else {
      // Larger than the whole budget: lru-cache refused it (and dropped any older value).
      this.unindex(key);
    }
  }

  deleteGroup(group: string): void {
    const keys = this.byGroup.get(group);
    if (!keys) return;
    this.byGroup.delete(group);
    for (const k of keys) this.lru.delete(k);
  }

  clear(): void {
    this.byGroup.clear();
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get groups(): number {
    return this.byGroup.size;
  }

  private unindex(key: string): void {
    const group = key.slice(0, key.indexOf(SEP));
    const keys = this.byGroup.get(group);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.byGroup.delete(group);
  }
}
