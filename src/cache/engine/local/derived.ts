import { LRUCache } from 'lru-cache';
import type { EngineState } from '../state.js';
import type { DerivedCache, DerivedOptions, DerivedToken } from '../types.js';

const SEP = '\u0000';

interface Owner {
  /** Bumped by every change of a piece the owner depends on: a value derived before it is not stored. */
  gen: number;
  deps: Set<string>;
  variants: Set<string>;
}

interface Token extends DerivedToken {
  readonly rec: Owner;
  readonly gen: number;
}

/**
 * Values derived from pieces (a composed list page), in this process only: Synapse's `@cached` rule
 * ("a value computed while one of its inputs changed is never stored") with the inputs named.
 *
 * An owner (a user) declares the pieces its values depend on; a change of any of them, applied here
 * (a local write, or another instance's, before its ack), bumps the owner's generation and drops its
 * values. A value is stored only under the generation its derivation started with. The reverse index
 * piece -> owners makes a change cost O(owners that depend on it here), with no scan.
 */
export class Derived<V> implements DerivedCache<V> {
  private readonly values: LRUCache<string, { value: V }>;
  private readonly owners: LRUCache<string, Owner>;
  private readonly byPiece = new Map<string, Set<string>>();

  constructor(
    private readonly s: EngineState,
    opts: DerivedOptions<V>,
  ) {
    this.values = new LRUCache<string, { value: V }>({
      maxSize: opts.maxBytes,
      sizeCalculation: (v, k) => opts.sizeOf(v.value) + k.length + 64,
      ttl: Math.max(1, s.o.ttlMs),
      ttlAutopurge: false,
      updateAgeOnGet: false,
      dispose: (_v, k, reason) => {
        if (reason !== 'evict' && reason !== 'expire') return;
        // Pushed out by the budget or its age: an owner with nothing left forgets its dependencies.
        const sep = k.indexOf(SEP);
        const owner = k.slice(0, sep);
        const rec = this.owners.peek(owner);
        if (rec === undefined) return;
        rec.variants.delete(k.slice(sep + 1));
        if (rec.variants.size === 0) this.owners.delete(owner);
      },
    });
    // Owners are kept while they have values, or lost them to a change (their dependencies then
    // serve the next derivation); bounded, the least recently used go first (a derivation whose owner
    // was dropped stores nothing: its token no longer matches).
    this.owners = new LRUCache<string, Owner>({
      max: 50_000,
      dispose: (rec, owner) => this.forget(owner, rec),
    });
    // Every version applied here drops the owners of the piece, even one L1 already knew or had passed:
    // L1 may have it from a read that told nothing derived (a fresh reload, a refill after eviction),
    // so a value derived before that read is older than the version whose publish is now resolving.
    s.changeListeners.push((key) => this.pieceChanged(key));
    s.flushListeners.push(() => this.clear());
  }

  peek(owner: string, variant: string): V | undefined {
    if (!this.s.coherent()) return undefined;
    return this.values.get(owner + SEP + variant)?.value;
  }

  /** `pieces`: what the owner's values depend on before anything else is read (its own piece, say). */
  begin(owner: string, pieces: readonly string[] = []): DerivedToken {
    let rec = this.owners.get(owner);
    if (rec === undefined) {
      rec = { gen: 0, deps: new Set(), variants: new Set() };
      this.owners.set(owner, rec);
    }
    for (const p of pieces) this.link(owner, rec, p);
    return { owner, rec, gen: rec.gen } as Token;
  }

  dependOn(token: DerivedToken, pieces: readonly string[]): void {
    const t = token as Token;
    if (this.owners.peek(t.owner) !== t.rec) return;
    for (const p of pieces) this.link(t.owner, t.rec, p);
  }

  set(token: DerivedToken, variant: string, value: V): boolean {
    const t = token as Token;
    if (!this.s.coherent() || this.s.closed) return false;
    if (this.owners.peek(t.owner) !== t.rec || t.rec.gen !== t.gen) return false;
    // Recorded before the store: storing may evict the owner's last other value, and an owner left with
    // no recorded value forgets its dependencies (see the values' dispose) — this one would then be kept
    // with nothing linking it to its pieces.
    t.rec.variants.add(variant);
    this.values.set(t.owner + SEP + variant, { value });
    if (!this.values.has(t.owner + SEP + variant)) t.rec.variants.delete(variant);
    return true;
  }

  drop(owner: string): void {
    const rec = this.owners.peek(owner);
    if (rec !== undefined) this.bump(owner, rec);
  }

  get size(): number {
    return this.values.size;
  }

  get bytes(): number {
    return this.values.calculatedSize;
  }

  private link(owner: string, rec: Owner, piece: string): void {
    if (rec.deps.has(piece)) return;
    rec.deps.add(piece);
    let set = this.byPiece.get(piece);
    if (set === undefined) this.byPiece.set(piece, (set = new Set()));
    set.add(owner);
  }

  private pieceChanged(piece: string): void {
    const owners = this.byPiece.get(piece);
    if (owners === undefined) return;
    for (const owner of owners) {
      const rec = this.owners.peek(owner);
      if (rec !== undefined) this.bump(owner, rec);
    }
  }

  private bump(owner: string, rec: Owner): void {
    rec.gen++;
    const variants = [...rec.variants];
    rec.variants.clear();
    for (const v of variants) this.values.delete(owner + SEP + v);
  }

  private forget(owner: string, rec: Owner): void {
    this.bump(owner, rec);
    for (const p of rec.deps) {
      const set = this.byPiece.get(p);
      set?.delete(owner);
      if (set?.size === 0) this.byPiece.delete(p);
    }
  }

  private clear(): void {
    this.values.clear();
    this.owners.clear();
    this.byPiece.clear();
  }
}
