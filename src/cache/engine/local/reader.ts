import { packValue, unpackValue } from '../codec.js';
import type { Lease } from '../coherence/lease.js';
import type { EngineState } from '../state.js';
import type { BatchLoader, Entry, Found } from '../types.js';
import { pieceKey } from './l1.js';

/**
 * A load in flight for some pieces of one kind. Shared with later readers of the same piece only while
 * nothing newer of it has been applied here (the listener below takes the piece out of `flights`) and
 * in the same epoch. `floors`: versions applied here while it ran; it never stores anything older.
 */
interface Flight {
  readonly epoch: number;
  readonly floors: Map<string, number>;
  promise: Promise<Map<string, Found<unknown>>>;
}

/** An empty stored value: the piece does not exist at that version (a tombstone). */
const TOMBSTONE = Buffer.alloc(0);

/**
 * The read path: L1, then L2 (one pipelined HMGET per piece), then the loader for what is still
 * missing, in one call for the whole batch; at most one load per piece in flight. What a load read
 * from the source goes to L1 at once and to L2 in the background, stamped with the Redis time of the
 * load's start (so that a fill that lands late, after an outage, is distrusted like everything older).
 */
export class Reader {
  private readonly flights = new Map<string, Flight>();

  constructor(
    private readonly s: EngineState,
    private readonly lease: Lease | undefined,
    /** False while writes of ours still have to reach Redis: L2 may be older than they are. */
    private readonly l2Readable: () => boolean,
  ) {
    s.changeListeners.push((key, version) => {
      const f = this.flights.get(key);
      if (f === undefined) return;
      f.floors.set(key, Math.max(version, f.floors.get(key) ?? -1));
      this.flights.delete(key);
    });
    s.flushListeners.push(() => this.flights.clear());
  }

  peek<T>(kind: string, id: string): Entry<T> | undefined {
    if (!this.s.coherent()) return undefined;
    const e = this.s.l1.get(pieceKey(kind, id));
    if (e === undefined || e.value === undefined) return undefined;
    this.s.n.l1Hits++;
    return e as Entry<T>;
  }

  async getMany<T>(kind: string, ids: readonly string[], loader: BatchLoader<T>, fresh = false, cachedOnly = false): Promise<Map<string, Found<T>>> {
    if (fresh) return this.load(kind, [...new Set(ids)], loader as BatchLoader<unknown>, true) as Promise<Map<string, Found<T>>>;

    const out = new Map<string, Found<T>>();
    const waits: Array<Promise<void>> = [];
    const missing: string[] = [];
    const coherent = this.s.coherent();
    for (const id of new Set(ids)) {
      const key = pieceKey(kind, id);
      if (coherent) {
        const e = this.s.l1.get(key);
        if (e !== undefined && e.value !== undefined) {
          this.s.n.l1Hits++;
          out.set(id, { entry: e as Entry<T>, source: 'l1' });
          continue;
        }
        // Joined only while coherent: an instance past its lease may have missed the write a load predates.
        const f = this.flights.get(key);
        if (f !== undefined && f.epoch === this.s.epoch) {
          waits.push(
            f.promise.then((r) => {
              const v = r.get(id);
              if (v !== undefined) out.set(id, v as Found<T>);
            }),
          );
          continue;
        }
      }
      missing.push(id);
    }
    if (missing.length > 0) {
      waits.push(
        (cachedOnly ? this.fromL2(kind, missing) : this.load(kind, missing, loader as BatchLoader<unknown>)).then((r) => {
          for (const [id, v] of r) out.set(id, v as Found<T>);
        }),
      );
    }
    await Promise.all(waits);
    return out;
  }

  /**
   * L2 only, for a caller that decides what to load itself (no flight: nobody may join a read that
   * will not load what it lacks).
   */
  private async fromL2(kind: string, ids: string[]): Promise<Map<string, Found<unknown>>> {
    const flight: Flight = { epoch: this.s.epoch, floors: new Map(), promise: Promise.resolve(new Map()) };
    const result = new Map<string, Found<unknown>>();
    if (this.s.l2 !== undefined && this.l2Readable()) await this.readL2(kind, ids, flight, result);
    return result;
  }

  private load(kind: string, ids: string[], loader: BatchLoader<unknown>, fresh = false): Promise<Map<string, Found<unknown>>> {
    const keys = ids.map((id) => pieceKey(kind, id));
    const flight: Flight = { epoch: this.s.epoch, floors: new Map(), promise: Promise.resolve(new Map()) };
    for (const k of keys) this.flights.set(k, flight);
    flight.promise = this.run(kind, ids, loader, flight, fresh).finally(() => {
      for (const k of keys) if (this.flights.get(k) === flight) this.flights.delete(k);
    });
    return flight.promise;
  }

  private async run(kind: string, ids: string[], loader: BatchLoader<unknown>, flight: Flight, fresh: boolean): Promise<Map<string, Found<unknown>>> {
    const s = this.s;
    const codec = s.codec(kind);
    const startedAt = performance.now();
    const result = new Map<string, Found<unknown>>();
    const l2 = s.l2;
    if (l2 !== undefined && !fresh && this.l2Readable()) await this.readL2(kind, ids, flight, result);
    const remaining = ids.filter((id) => !result.has(id));
    if (remaining.length === 0) return result;
    s.n.misses += remaining.length;
    if (s.events.has('miss')) s.events.emit('miss', { kind, count: remaining.length });
    const t0 = performance.now();
    const loaded = await loader(remaining);
    s.n.loads++;
    if (s.events.has('load')) s.events.emit('load', { kind, ms: performance.now() - t0, count: remaining.length });
    const stamp = this.lease?.redisTimeAt(startedAt);
    for (const id of remaining) {
      const l = loaded.get(id);
      if (l === undefined) continue;
      const entry: Entry<unknown> = { version: l.version, value: l.value };
      result.set(id, { entry, source: 'load' });
      const bytes = l.value === null ? TOMBSTONE : codec.encode(l.value);
      const key = pieceKey(kind, id);
      this.keep(key, entry, bytes.length, flight, kind, id);
      // Filled in the background: the caller has its value. Without a Redis clock offset yet (no lease
      // renewed) nothing is filled: the stamp could not be trusted to be early enough.
      if (l2 !== undefined && stamp !== undefined && flight.epoch === s.epoch && !s.closed) {
        const stored = packValue(bytes, s.o.compressMinBytes);
        l2.install(l2.pieceKey(kind, id), l.version, stamp, s.o.ttlMs, stored, 'read').then(
          (ok) => {
            if (ok) {
              s.n.l2Bytes += stored.length;
              s.n.l2Values++;
            } else this.refused(kind, id);
          },
          (err: unknown) => {
            if (s.events.has('error')) s.events.emit('error', { op: 'fill', err });
          },
        );
      }
    }
    return result;
  }

  /** What L2 holds of these pieces (and may be trusted), into `result` and L1. */
  private async readL2(kind: string, ids: string[], flight: Flight, result: Map<string, Found<unknown>>): Promise<void> {
    const s = this.s;
    const l2 = s.l2!;
    const codec = s.codec(kind);
    try {
      const stored = await l2.readMany(ids.map((id) => l2.pieceKey(kind, id)));
      for (const [i, st] of stored.entries()) {
        // Stored before we last regained trust: it may predate a write whose new version is still
        // on its way into Redis.
        if (st === null || st.t < s.l2TrustFromMs) continue;
        let value: unknown;
        let bytes: number;
        try {
          const raw = unpackValue(st.data);
          bytes = raw.length;
          value = raw.length === 0 ? null : codec.decode(raw);
        } catch {
          this.corrupt(kind, ids[i]!);
          continue;
        }
        const entry: Entry<unknown> = { version: st.version, value };
        s.n.l2Hits++;
        if (s.events.has('hit')) s.events.emit('hit', { level: 'l2', kind });
        result.set(ids[i]!, { entry, source: 'l2' });
        this.keep(pieceKey(kind, ids[i]!), entry, bytes, flight, kind, ids[i]!);
      }
    } catch (err) {
      if (s.events.has('error')) s.events.emit('error', { op: 'read', err });
    }
  }

  /** Into L1, unless this instance is not coherent, a flush came meanwhile, or something newer was applied. */
  private keep(key: string, entry: Entry<unknown>, bytes: number, flight: Flight, kind: string, id: string): void {
    const s = this.s;
    if (!s.coherent() || flight.epoch !== s.epoch || s.closed) return;
    if (entry.version < (flight.floors.get(key) ?? -1)) {
      this.refused(kind, id);
      return;
    }
    s.l1.offer(key, { version: entry.version, value: entry.value, bytes }, s.o.ttlMs);
  }

  private refused(kind: string, id: string): void {
    this.s.n.staleFillsRefused++;
    if (this.s.events.has('staleFillRefused')) this.s.events.emit('staleFillRefused', { kind, id });
  }

  private corrupt(kind: string, id: string): void {
    this.s.n.corrupt++;
    this.s.log.warn({ kind, id }, 'cache L2 value could not be decoded; treated as a miss');
  }
}
