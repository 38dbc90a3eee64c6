import { LRUCache } from 'lru-cache';

/** Bytes charged per piece on top of its encoded size: the LRU node, the entry object, the key. */
export const ENTRY_OVERHEAD_BYTES = 96;

/**
 * A piece in memory. `value` undefined: only the version is known (a write announced it without its
 * value); such a floor is never served, but keeps an older version from being stored over it.
 */
export interface L1Entry {
  readonly version: number;
  readonly value: unknown;
  readonly bytes: number;
}

export function pieceKey(kind: string, id: string): string {
  return `${kind}:${id}`;
}

/**
 * The in-process level: an LRU of decoded pieces bounded by bytes (charged by encoded size, which is
 * known without walking the object). A version never goes back: offer() keeps whichever is newer.
 */
export class L1 {
  private readonly lru: LRUCache<string, L1Entry>;

  constructor(maxBytes: number, ttlMs: number) {
    this.lru = new LRUCache<string, L1Entry>({
      maxSize: maxBytes,
      ttl: ttlMs,
      // No timers: expired entries are dropped when touched or pushed out by the LRU.
      ttlAutopurge: false,
      updateAgeOnGet: false,
      allowStale: false,
      sizeCalculation: (e, k) => e.bytes + k.length + ENTRY_OVERHEAD_BYTES,
    });
  }

  get(key: string): L1Entry | undefined {
    return this.lru.get(key);
  }

  /** Stores the entry unless a newer version is there; returns whether it was stored. */
  offer(key: string, entry: L1Entry, ttlMs?: number): boolean {
    const cur = this.lru.get(key);
    if (cur !== undefined && cur.version > entry.version) return false;
    // A floor never replaces what is known of its version. A value of the same version replaces the
    // one there: both are the truth at that version (a later read may carry more, see the list's
    // member state, whose unread counts start from the moment it was read).
    if (cur !== undefined && cur.version === entry.version && entry.value === undefined) return false;
    this.lru.set(key, entry, ttlMs === undefined ? undefined : { ttl: ttlMs });
    return true;
  }

  /** The version known here (value or floor), or -1. */
  versionOf(key: string): number {
    return this.lru.get(key)?.version ?? -1;
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
