/**
 * Multi-level cache engine: L1 (in-process LRU, byte budget) -> L2 (Redis hash per group) -> loader.
 * It knows nothing about what it caches: entries are (group, field) -> { value: Buffer, meta }.
 *
 * ## Freshness contract
 * Once `invalidate(groups)` has resolved, no process serves a value of those groups that was loaded
 * before the call. Two mechanisms give it:
 *
 * ### 1. No stale fill (in-process and in Redis)
 * A load records, at its start, the local generation of its group, the local epoch (bumped whenever
 * coherence is lost and regained, on Redis reconnects, and by clear()), and, after an L2 miss, the Redis
 * gen/epoch/time (HEAD script). The L2 fill is a Lua compare-and-set on the Redis gen+epoch; the L1 fill
 * happens only if that CAS stored (when Redis was used), the local gen/epoch are unchanged, and the
 * instance is coherent. The fill script also refuses a load older than leaseMs (Redis time): a fill
 * sent before an outage and executed after it could otherwise land after a writer gave up waiting.
 * A load that started before an invalidation is also never *joined* by a getter arriving after it,
 * and no load is joined while the instance is not coherent (it may have missed that invalidation).
 *
 * ### 2. Cross-instance: acknowledgements + leases ("fresh" mode, the default)
 * - Every instance subscribes to its own inbox `${ns}:v4:inbox:${id}` (invalidations, acks, heartbeats).
 * - Lease: every leaseMs/3 the instance runs `renew`, which atomically (a) ZADDs its id to the registry
 *   with expiry = RedisNow + leaseMs and (b) PUBLISHes a heartbeat to its own inbox. When the
 *   heartbeat comes back through the subscriber, the bus is proven alive after the renewal, and the
 *   instance trusts its L1 until `sentAt + leaseMs - margin` (sentAt = local time the renew was sent).
 *   While not trusted (or while the bus is down) L1 is neither read nor written; when trust comes back
 *   after a lapse, L1 is flushed and the epoch bumped first (invalidations may have been missed).
 *   Why renew-then-publish in one script rather than publish-then-renew: with publish first, a writer
 *   could read our *previous* registry expiry between our heartbeat and our renewal, publish an
 *   invalidation we miss, and stop waiting for us up to leaseMs/3 before our trust ran out. With
 *   renewal and heartbeat atomic, whatever expiry a writer reads is at least sentAt + leaseMs for the
 *   trust we derive from it; and any message published after the heartbeat reaches us before the
 *   next heartbeat does (one connection, in order), or the bus drops and trust ends at once.
 * - Interest: with its first read of a group (and again every genTtlMs / 2), an instance registers in
 *   the group's state hash (REGISTER, pipelined with the read; see lua.ts), and writes tell only the
 *   live registered instances. A value read before the registration ran is used only if no write came
 *   in between (its gen is not older than the one REGISTER returns), so whatever a flight keeps or
 *   shares, every later write reaches this instance.
 * - Writer: `invalidate(groups)` bumps local gens and drops L1 entries synchronously, then runs the
 *   `invalidate` script: bump gens, UNLINK entries, PUBLISH {origin, msgId, groups} to the inbox of every
 *   live instance registered in one of the groups but the writer, and return those instances, all
 *   atomically. Receivers bump gens,
 *   drop L1, then PUBLISH an ack to the writer's inbox (on their command connection, so any fill they
 *   sent earlier has run before the ack). The writer
 *   waits, per live instance, for its ack or its registry expiry (converted from Redis time to a local
 *   delay measured from the reply), whichever comes first; past its expiry an instance has stopped
 *   trusting its L1 on its own. `ackTimeoutMs` is when a missing ack is logged and the rest of the wait
 *   is reported as `waitedForLeaseMs`; a late ack still ends the wait early.
 * - Redis failing during invalidate: retries with short backoff until firstFailure + leaseMs +
 *   redisTimeoutMs. By then no instance that shares this Redis can still trust its L1 (nobody could
 *   renew). The groups are queued and replayed as soon as Redis answers; until then this instance reads
 *   no L2. Instances that lapsed distrust L2 entries stored before they regained trust (`l2TrustFromMs`,
 *   Redis time), because a writer's replay may not have landed yet. invalidate() never throws for a
 *   Redis fault: the database write it follows is already committed.
 * - 'fast' mode: pub/sub only, the writer does not wait. An instance that misses a message (bus drop)
 *   still flushes on reconnect and stops serving L1 when its lease lapses, but right after
 *   invalidate() resolves another instance may serve the old value for up to one network hop.
 *
 * ### 3. Holds: the invalidation runs while the write does
 * invalidate() after a commit puts its Redis script and its acks on the write's response time. A
 * writer that knows which groups it will change can call `hold(groups)` before its transaction ends:
 * the same invalidation (gen bump, UNLINK, publish, acks) runs concurrently with the transaction, and
 * also *holds* the groups — Redis records the hold (field holdId -> expiry, Redis time, in each
 * group's state hash), and the writing process in memory — until the write commits or holdMs passes.
 * A load that starts while its group is held (by its own process, or per the HEAD script every
 * storable load runs first: a load that cannot run HEAD is never stored) is served but never stored in
 * L1 or L2, and never joined: it may have read the database before the commit. Other processes need no
 * message to end a hold: HEAD asks Redis, so the release is one script, with nothing to publish. A load
 * that started before the hold fails its gen checks as with any invalidation. So after `commit()`:
 * - if the hold was in place everywhere (acks/leases, as for invalidate) and the commit finished before
 *   the hold's validity (holdMs from before the script was sent, less a margin) ended, nothing older
 *   than the commit can have been stored anywhere: the write may answer at once, and the release (the
 *   hold removed from Redis) runs in the background; loads that start after it read the commit;
 * - otherwise (the hold expired before the commit, or did not cover a group the write changed) a full
 *   invalidate() runs after the commit, as without a hold; if Redis was unreachable, the groups are
 *   queued for replay as for a degraded invalidate().
 * Holds are keyed by id, so overlapping writes on one group each keep it held until their own release.
 * A writer that dies mid-hold leaves it to expire after holdMs; its loads-not-stored cost only misses.
 *
 * ### Limits (documented, not handled)
 * - Redis TIME must advance at real-time rate (no clock step larger than the margin during a lease).
 * - A partition that cuts only the writer off Redis while readers still reach it: the writer resolves
 *   (degraded) after its deadline, and readers keep their L1 until the replay or TTL.
 * - An instance that starts within ~1 s after an outage longer than leaseMs, before the degraded
 *   writer's replay lands, may read an L2 entry that the replay is about to delete.
 * - Memory-only (no redisUrl): one process is assumed; it is always coherent.
 * - Single Redis primary: invalidate/clear/renew scripts touch keys of several slots (hash tags keep
 *   each group's entries and state hash together for a future per-slot split).
 * - A Redis that loses writes without dropping our connections (failover to a lagging replica behind
 *   a proxy) may lose gens, holds and interest registrations alike; a reconnect bumps the epoch, which
 *   covers every case where the connection does drop. Eviction is such a loss too: Redis must run
 *   with `maxmemory-policy noeviction` (or memory to spare); a state hash evicted under a volatile-*
 *   or allkeys-* policy takes its holds and registrations with it.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { AckTracker } from './acks.js';
import { Bus } from './bus.js';
import { decodeEntry, encodeEntry } from './codec.js';
import { TypedEmitter } from './emitter.js';
import { L1, SEP } from './l1.js';
import { RedisL2, type Addressing, type HeadReply, type RegistryReply } from './l2-redis.js';
import { Lease } from './lease.js';
import { COORDINATION } from './lua.js';
import type {
  CacheEngine,
  CacheEngineOptions,
  CacheEntry,
  CacheEvents,
  CacheMode,
  CacheStats,
  GetResult,
  InvalidationReport,
  LinkState,
  Loader,
  WriteHold,
} from './types.js';

/** Per-group state, alive only while loads of the group are in flight (that is all a gen guards). */
interface GroupState {
  gen: number;
  flights: number;
}

interface Flight {
  readonly gs: GroupState;
  readonly gen: number;
  readonly epoch: number;
  /** Started while a write of this process held the group: served to its callers, never stored or joined. */
  readonly held: boolean;
  /**
   * Whether a getter arriving now may take this load's value. False once the loader has started
   * without a HEAD saying the group is not held (held, or HEAD failed): the read may predate the commit
   * of a write that has already answered. Before the loader starts, a joiner is safe: the read comes later.
   */
  joinable: boolean;
  /**
   * This instance is registered for the group (before the flight, or by it), so every
   * write after the registration reaches it: only then may the value be kept in L1. Memory only: always.
   */
  registered: boolean;
  readonly promise: Promise<GetResult>;
}

interface FlightOutcome {
  result: GetResult;
  /** The L2 fill, finished after the caller got its value (a slow Redis must not delay the caller). */
  background?: Promise<void>;
}

interface BusMessage {
  t: 'inv' | 'clr' | 'ack';
  /** Sender (origin) instance and message id; on an ack, f = the acknowledging instance. */
  o?: string;
  m?: string;
  g?: string[];
  f?: string;
}

const DEFAULTS = {
  mode: 'fresh' as CacheMode,
  redisTimeoutMs: 50,
  leaseMs: 2000,
  ackTimeoutMs: 250,
  breakerThreshold: 5,
  breakerCooldownMs: 1000,
  holdMs: 5000,
};

/**
 * Groups per script call. Redis runs one script at a time: a write touching thousands of lists is
 * sent in several bounded scripts rather than one that blocks every other client meanwhile.
 */
const MAX_GROUPS_PER_SCRIPT = 500;

function chunked<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += MAX_GROUPS_PER_SCRIPT) out.push(xs.slice(i, i + MAX_GROUPS_PER_SCRIPT));
  return out;
}

export class Engine implements CacheEngine {
  readonly name: string;
  readonly enabled: boolean;
  readonly events = new TypedEmitter<CacheEvents>();

  private readonly log: Logger;
  private readonly id = randomBytes(8).toString('hex');
  private readonly ns: string;
  private readonly mode: CacheMode;
  private readonly ttlMs: number;
  private readonly l1MaxBytes: number;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private readonly ackTimeoutMs: number;
  private readonly holdMs: number;
  /** A gen must outlive the entries it guards and any fill still allowed (maxFillAgeMs): kept this long. */
  private readonly genTtlMs: number;
  /** A registration lasts genTtlMs + ttlMs: see `registered`. */
  private readonly interestTtlMs: number;
  /**
   * Groups this instance is registered for (value: the epoch it registered at): their flights
   * read L2 with a plain HGET. Remembered for genTtlMs / 2 after the registration was sent, so that
   * any L1 entry kept on its strength expires before our membership does (interestTtlMs = genTtlMs +
   * ttlMs; the flight's store comes at most leaseMs <= genTtlMs / 4 later, refused after that, and
   * lives ttlMs at most). Dropped with any flush (Redis may have lost the registration: a new epoch).
   */
  private readonly registered: LRUCache<string, number>;
  /** Every instance's inbox is `${inboxPrefix}${id}` (see lua.ts); ours is `inbox`. */
  private readonly inboxPrefix: string;
  private readonly inbox: string;
  private readonly startedAt = performance.now();

  private readonly l1: L1;
  private readonly l2: RedisL2 | undefined;
  private readonly bus: Bus | undefined;
  private readonly lease: Lease | undefined;
  /** What the hit path reads: the lease, or a constant for memory-only / disabled engines. */
  private readonly coh: { trustUntil: number };

  private epoch = 0;
  private l2TrustFromMs = 0;
  private everCoherent = false;
  private closed = false;
  private msgSeq = 0;
  private readonly groups = new Map<string, GroupState>();
  private readonly flights = new Map<string, Flight>();
  private readonly acks = new AckTracker();
  /**
   * This process's writes in progress, by hold id: the groups whose loads must not be stored, until
   * (performance.now). Kept per write, not per group: placing and ending a hold is O(1) however many
   * lists it covers; a load checks the few writes in progress.
   */
  private readonly holds = new Map<string, { groups: ReadonlySet<string>; until: number }>();
  private holdSeq = 0;
  private readonly readyWaiters = new Set<() => void>();

  private readonly pendingGroups = new Set<string>();
  private pendingClear = false;
  private replaying = false;
  private replayTimer: NodeJS.Timeout | undefined;

  private n = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    loads: 0,
    invalidations: 0,
    remoteInvalidations: 0,
    staleFillsRefused: 0,
    corrupt: 0,
    degraded: 0,
    flushes: 0,
  };
  private corruptLogged = false;

  constructor(opts: CacheEngineOptions) {
    if (!Number.isFinite(opts.ttlMs) || opts.ttlMs < 0) throw new TypeError('ttlMs must be a number >= 0');
    if (!Number.isInteger(opts.l1MaxBytes) || opts.l1MaxBytes <= 0) throw new TypeError('l1MaxBytes must be a positive integer');
    this.name = opts.name;
    this.ns = opts.namespace;
    this.log = opts.logger.child({ cache: opts.name });
    this.mode = opts.mode ?? DEFAULTS.mode;
    this.ttlMs = Math.ceil(opts.ttlMs);
    this.l1MaxBytes = opts.l1MaxBytes;
    this.timeoutMs = opts.redisTimeoutMs ?? DEFAULTS.redisTimeoutMs;
    this.leaseMs = opts.leaseMs ?? DEFAULTS.leaseMs;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULTS.ackTimeoutMs;
    this.holdMs = opts.holdMs ?? DEFAULTS.holdMs;
    this.genTtlMs = Math.max(this.ttlMs, 4 * this.leaseMs, 10_000);
    this.interestTtlMs = this.genTtlMs + this.ttlMs;
    // Bounded: a registration forgotten early only costs a REGISTER again.
    this.registered = new LRUCache<string, number>({ max: 100_000, ttl: this.genTtlMs / 2, ttlAutopurge: false });
    this.inboxPrefix = `${this.ns}:${COORDINATION}:inbox:`;
    this.inbox = this.inboxPrefix + this.id;
    // ttl 0 = disabled (never "default"): the seed's `ttl || default` turned 0 into a live cache.
    this.enabled = this.ttlMs > 0;
    this.l1 = new L1(this.l1MaxBytes, Math.max(1, this.ttlMs));

    if (!this.enabled) {
      this.coh = { trustUntil: -Infinity };
      return;
    }
    if (!opts.redisUrl) {
      // Memory only: nobody else can invalidate, so this process is always coherent.
      this.coh = { trustUntil: Infinity };
      this.everCoherent = true;
      return;
    }

    const breakerThreshold = opts.breakerThreshold ?? DEFAULTS.breakerThreshold;
    const breakerCooldownMs = opts.breakerCooldownMs ?? DEFAULTS.breakerCooldownMs;
    this.l2 = new RedisL2({
      url: opts.redisUrl,
      namespace: this.ns,
      timeoutMs: this.timeoutMs,
      connectionName: `${this.ns}:${this.name}:${this.id}:cmd`,
      breakerThreshold,
      breakerCooldownMs,
      log: this.log,
      onState: (up) => this.onRedisState(up),
      onDisconnect: () => {
        // Redis may have restarted (gens back to 0): loads in flight must not fill anything.
        this.epoch++;
      },
      onBreakerOpen: (failures) => {
        this.log.warn({ failures }, 'cache redis circuit breaker opened');
        this.events.emit('breakerOpen', { failures });
      },
    });
    this.bus = new Bus({
      url: opts.redisUrl,
      timeoutMs: this.timeoutMs,
      connectionName: `${this.ns}:${this.name}:${this.id}:sub`,
      channel: this.inbox,
      log: this.log,
      onMessage: (message) => this.onMessage(message),
      onState: (up) => this.onBusState(up),
    });
    this.lease = new Lease({
      id: this.id,
      leaseMs: this.leaseMs,
      marginMs: Math.max(10, Math.floor(this.leaseMs / 10)),
      inbox: this.inbox,
      l2: this.l2,
      busUp: () => this.bus?.isUp ?? false,
      log: this.log,
      onRegained: (redisNow) => this.onRegained(redisNow),
      onLapsed: () => {
        this.log.warn('cache lease lapsed: L1 not served until the bus proves alive again');
        this.events.emit('coherence', { coherent: false });
      },
    });
    this.coh = this.lease;
    this.lease.start();
  }

  /** This instance's id in the registry (for logs and tests). */
  get instanceId(): string {
    return this.id;
  }

  // ---------------------------------------------------------------- read path

  peek(group: string, field: string): CacheEntry | undefined {
    if (performance.now() >= this.coh.trustUntil) return undefined;
    const e = this.l1.get(group + SEP + field);
    if (e !== undefined) {
      this.n.l1Hits++;
      if (this.events.has('hit')) this.events.emit('hit', { level: 'l1' });
    }
    return e;
  }

  async get(group: string, field: string, loader: Loader): Promise<GetResult> {
    if (!this.enabled || this.closed) {
      const v = await loader();
      this.n.loads++;
      return { entry: { value: v.value, meta: v.meta, storedAt: Date.now() }, source: 'load' };
    }
    checkGroup(group);
    const key = group + SEP + field;
    if (performance.now() < this.coh.trustUntil) {
      const e = this.l1.get(key);
      if (e !== undefined) {
        this.n.l1Hits++;
        if (this.events.has('hit')) this.events.emit('hit', { level: 'l1' });
        return { entry: e, source: 'l1' };
      }
    }
    const f = this.flights.get(key);
    // Join a load only if no invalidation/clear/coherence loss happened since it started: a getter
    // that arrives after invalidate() resolved must not receive a value read before it. Only while
    // coherent, too: an instance past its lease may have missed an invalidation that a writer then
    // stopped waiting for (the gen above would not show it); a regained lease bumps the epoch.
    if (f !== undefined && f.joinable && f.gs.gen === f.gen && f.epoch === this.epoch && performance.now() < this.coh.trustUntil) {
      return f.promise;
    }
    return this.startFlight(group, field, key, loader);
  }

  private startFlight(group: string, field: string, key: string, loader: Loader): Promise<GetResult> {
    let gs = this.groups.get(group);
    if (gs === undefined) this.groups.set(group, (gs = { gen: 0, flights: 0 }));
    gs.flights++;
    let settle!: { resolve: (r: GetResult) => void; reject: (e: unknown) => void };
    // The promise exists before the loader runs: a loader that re-enters get() for the same key joins it.
    const promise = new Promise<GetResult>((resolve, reject) => (settle = { resolve, reject }));
    const held = this.holds.size > 0 && this.isHeld(group);
    const registered = this.l2 === undefined || this.registered.get(group) === this.epoch;
    const fl: Flight = { gs, gen: gs.gen, epoch: this.epoch, held, joinable: !held, registered, promise };
    this.flights.set(key, fl);
    this.runFlight(group, field, key, loader, fl).then(
      (out) => {
        if (out.background) void out.background.then(() => this.endFlight(group, key, fl));
        else this.endFlight(group, key, fl);
        settle.resolve(out.result);
      },
      (err: unknown) => {
        this.endFlight(group, key, fl);
        settle.reject(err);
      },
    );
    return promise;
  }

  private endFlight(group: string, key: string, fl: Flight): void {
    if (this.flights.get(key) === fl) this.flights.delete(key);
    if (--fl.gs.flights === 0 && this.groups.get(group) === fl.gs) this.groups.delete(group);
  }

  private async runFlight(group: string, field: string, key: string, loader: Loader, fl: Flight): Promise<FlightOutcome> {
    const l2 = this.l2;
    let redis: HeadReply | undefined;
    if (l2 !== undefined && this.l2Readable()) {
      try {
        // First read of the group here: register alongside the read (see lua.ts).
        const [sinceGen, raw] = fl.registered
          ? [-1, await l2.read(group, field)]
          : await Promise.all([this.register(l2, group, fl), l2.read(group, field)]);
        if (raw !== null) {
          const d = decodeEntry(raw);
          if (d === undefined) this.onCorrupt(group, field, raw.length);
          // Older than the gen at our registration: the read ran first, and a write between the two
          // did not tell us. Not used: a miss, loaded after the registration.
          else if (d.gen >= sinceGen) {
            // Age by the local clock (TTL is not what keeps entries fresh; skew only shifts expiry).
            // Trust by Redis time: entries older than our last regained coherence may predate a
            // writer's invalidation still queued for replay.
            const age = Date.now() - d.storedAt;
            if (d.storedAt >= this.l2TrustFromMs && age < this.ttlMs) {
              const entry: CacheEntry = { value: d.value, meta: d.meta, storedAt: d.storedAt };
              this.n.l2Hits++;
              if (this.events.has('hit')) this.events.emit('hit', { level: 'l2' });
              this.storeL1(group, field, key, entry, fl, this.ttlMs - Math.max(0, age));
              return { result: { entry, source: 'l2' } };
            }
          }
        }
        // A miss: record gen/epoch/time before the loader reads anything (the fill is checked against them).
        redis = await l2.head(group);
      } catch (err) {
        this.onRedisError('get', err);
      }
    }

    if (l2 !== undefined && (redis === undefined || redis.held)) fl.joinable = false;
    this.n.misses++;
    if (this.events.has('miss')) this.events.emit('miss', { group, field });
    const t0 = performance.now();
    const loaded = await loader();
    this.n.loads++;
    if (this.events.has('load')) this.events.emit('load', { ms: performance.now() - t0 });
    const entry: CacheEntry = { value: loaded.value, meta: loaded.meta, storedAt: Date.now() };
    const result: GetResult = { entry, source: 'load' };

    // Read while a write held the group: maybe before its commit. Served, not kept.
    if (fl.held || redis?.held === true) return { result };
    if (!this.localValid(fl)) {
      this.refused(group, field, 'local');
      return { result };
    }
    if (l2 === undefined) {
      // Memory only: nobody else writes, and our own holds are known locally.
      this.storeL1(group, field, key, entry, fl, this.ttlMs);
      return { result };
    }
    // Redis unreachable (or our invalidations not yet replayed into it): without HEAD we cannot know
    // whether another instance's write holds the group, so the value is served and not kept. Little
    // is lost: an instance that cannot reach Redis stops trusting its L1 within leaseMs anyway.
    if (redis === undefined) return { result };
    return { result, background: this.fill(l2, group, field, key, loaded.meta, loaded.value, fl, redis) };
  }

  /** L2 CAS fill, then (only if it stored) L1. Never rejects. */
  private async fill(
    l2: RedisL2,
    group: string,
    field: string,
    key: string,
    meta: string,
    value: Buffer,
    fl: Flight,
    redis: HeadReply,
  ): Promise<void> {
    try {
      // storedAt = Redis time at the load's start: never later than the data, so the L2 trust and TTL
      // checks on it err on the safe side.
      const encoded = encodeEntry(redis.gen, redis.epoch, redis.now, meta, value);
      const r = await l2.fill(
        group,
        field,
        {
          gen: redis.gen,
          epoch: redis.epoch,
          loadStartMs: redis.now,
          maxAgeMs: this.leaseMs,
          ttlMs: this.ttlMs,
          genTtlMs: this.genTtlMs,
        },
        encoded,
      );
      if (r.status === 1) this.storeL1(group, field, key, { value, meta, storedAt: redis.now }, fl, this.ttlMs);
      else this.refused(group, field, r.status === 0 ? 'cas' : 'age');
    } catch (err) {
      this.onRedisError('fill', err);
    }
  }

  private storeL1(group: string, field: string, key: string, entry: CacheEntry, fl: Flight, ttlMs: number): void {
    if (ttlMs <= 0 || fl.held || !fl.registered) return;
    if (!this.localValid(fl)) {
      this.refused(group, field, 'local');
      return;
    }
    // Not coherent: we may be missing invalidations, so we may not keep anything for later.
    if (performance.now() >= this.coh.trustUntil) return;
    this.l1.set(group, key, entry, Math.ceil(ttlMs));
  }

  /**
   * Registers this instance's interest in the group; resolves to the group's gen at that moment (see
   * lua.ts). From then on the flight may be kept in L1 and shared, and later flights of the group read
   * with a plain HGET (see `registered`).
   */
  private async register(l2: RedisL2, group: string, fl: Flight): Promise<number> {
    const sentAt = performance.now();
    const gen = await l2.register(group, this.id, this.interestTtlMs);
    fl.registered = true;
    const left = sentAt + this.genTtlMs / 2 - performance.now();
    if (fl.epoch === this.epoch && left > 0) this.registered.set(group, this.epoch, { ttl: left });
    return gen;
  }

  private localValid(fl: Flight): boolean {
    return fl.gs.gen === fl.gen && fl.epoch === this.epoch && !this.closed;
  }

  /** L2 may be read unless an invalidation/clear of ours still has to reach Redis. */
  private l2Readable(): boolean {
    if (this.pendingGroups.size === 0 && !this.pendingClear) return true;
    void this.replay();
    return false;
  }

  private refused(group: string, field: string, reason: 'local' | 'cas' | 'age'): void {
    this.n.staleFillsRefused++;
    this.log.debug({ group, field, reason }, 'cache stale fill refused');
    if (this.events.has('staleFillRefused')) this.events.emit('staleFillRefused', { group, field, reason });
  }

  private onCorrupt(group: string, field: string, bytes: number): void {
    this.n.corrupt++;
    if (!this.corruptLogged) {
      this.corruptLogged = true;
      this.log.warn({ group, field, bytes }, 'cache L2 value could not be decoded; treated as a miss (logged once)');
    }
  }

  // ---------------------------------------------------------------- invalidation

  async invalidate(groups: readonly string[]): Promise<InvalidationReport> {
    const unique = [...new Set(groups)];
    for (const g of unique) checkGroup(g);
    if (!this.enabled || unique.length === 0) {
      return { groups: unique.length, ms: 0, acks: 0, waitedForLeaseMs: 0, degraded: false };
    }
    // Local first, synchronously: from here on this process neither serves nor fills the old values.
    this.applyInvalidation(unique);
    return this.spread(unique, undefined);
  }

  hold(groups: readonly string[]): WriteHold {
    const t0 = performance.now();
    const unique = [...new Set(groups)];
    for (const g of unique) checkGroup(g);
    if (!this.enabled || unique.length === 0) {
      return { commit: (changed) => this.invalidate(changed), abort: () => undefined, inRedis: () => false };
    }
    const holdId = `${this.id}:${++this.holdSeq}`;
    // Redis and the other processes count holdMs from later than t0: ours is the earliest end.
    const validUntil = t0 + this.holdMs - Math.max(10, this.holdMs / 10);
    this.applyInvalidation(unique);
    const covered: ReadonlySet<string> = new Set(unique);
    this.holds.set(holdId, { groups: covered, until: t0 + this.holdMs });
    let landed = false;
    const placed = this.spread(unique, holdId, () => (landed = true));
    let ended = false;
    const release = (later = false): void => {
      this.holds.delete(holdId);
      if (later) setImmediate(() => void this.releaseRemote(unique, holdId));
      else void this.releaseRemote(unique, holdId);
    };
    return {
      commit: async (changed) => {
        if (ended) throw new Error('cache hold already ended');
        ended = true;
        const report = await placed;
        if (report.degraded) {
          // Every lease has lapsed (see withRetry); the replay must land after the commit: queue again.
          this.applyInvalidation(changed);
          this.queueReplay(changed);
          release();
          return report;
        }
        if (performance.now() < validUntil && changed.every((g) => covered.has(g))) {
          // In Redis, after the answer has gone out (this resolves it): nothing waits for the release.
          release(true);
          return report;
        }
        const slow = await this.invalidate(changed);
        release();
        return slow;
      },
      inRedis: (groups) => {
        if (!landed || ended || performance.now() >= validUntil - this.holdMs / 2) return false;
        return groups.every((g) => covered.has(g));
      },
      abort: () => {
        if (ended) return;
        ended = true;
        // After the hold's own script: a release overtaking a retried hold would leave it in place.
        void placed.then(() => release(), () => release());
      },
    };
  }

  /**
   * Bumps gens, drops data, publishes (a hold, with holdId) and waits for acks or leases; chunked.
   * `landed` is called once every chunk's script has run in Redis (before the acks come back).
   */
  private async spread(unique: string[], holdId: string | undefined, landed?: () => void): Promise<InvalidationReport> {
    const t0 = performance.now();
    this.n.invalidations += unique.length;
    let acks = 0;
    let waitedForLeaseMs = 0;
    let degraded = false;
    const l2 = this.l2;
    if (l2 !== undefined && !this.closed) {
      const chunks = chunked(unique);
      let ran = 0;
      const onRan = () => void (++ran === chunks.length && landed?.());
      for (const [i, chunk] of chunks.entries()) {
        const out =
          holdId === undefined
            ? await this.broadcast('invalidate', { t: 'inv', g: chunk }, (inbox) => l2.invalidate(chunk, inbox, this.genTtlMs), onRan)
            : await this.broadcast('hold', { t: 'inv', g: chunk }, (inbox) => l2.hold(chunk, inbox, this.genTtlMs, holdId, this.holdMs), onRan);
        if (out === undefined) {
          degraded = true;
          this.queueReplay(chunks.slice(i).flat());
          break;
        }
        acks += out.acks;
        waitedForLeaseMs += out.waitedForLeaseMs;
      }
    }
    const ms = performance.now() - t0;
    if (degraded) this.n.degraded++;
    this.events.emit('invalidate', { groups: unique.length, ms, degraded });
    return { groups: unique.length, ms, acks, waitedForLeaseMs, degraded };
  }

  /** Ends a hold in Redis; nobody waits for it (the write has answered). */
  private async releaseRemote(groups: string[], holdId: string): Promise<void> {
    const l2 = this.l2;
    if (l2 === undefined || this.closed) return;
    for (const chunk of chunked(groups)) {
      try {
        await l2.release(chunk, holdId);
      } catch (err) {
        // The hold expires on its own (holdMs): until then these groups are only not stored.
        this.onRedisError('release', err);
      }
    }
  }

  /** Whether a write of this process holds the group (expired holds, never ended by a bug, are pruned). */
  private isHeld(group: string): boolean {
    const now = performance.now();
    for (const [id, h] of this.holds) {
      if (h.until <= now) this.holds.delete(id);
      else if (h.groups.has(group)) return true;
    }
    return false;
  }

  async clear(): Promise<void> {
    if (!this.enabled) return;
    this.applyClear();
    const l2 = this.l2;
    if (l2 === undefined || this.closed) return;
    const out = await this.broadcast('clear', { t: 'clr' }, (inbox) => l2.clear(inbox));
    // Entries are readable until swept (reads skip the epoch, see lua.ts), so the sweep must complete;
    // if it cannot, the whole clear is replayed later and this instance reads no L2 until then.
    const swept = out === undefined ? undefined : await this.withRetry('clear sweep', () => l2.sweep());
    if (swept === undefined) {
      this.n.degraded++;
      this.pendingClear = true;
      this.scheduleReplay();
    }
  }

  /** A message with a fresh id (returned as `id`, what acks name), for the inboxes of the instances a script addresses. */
  private addressed(body: Omit<BusMessage, 'o' | 'm'>): Addressing & { id: string } {
    const id = `${this.id}:${++this.msgSeq}`;
    return { id, prefix: this.inboxPrefix, message: JSON.stringify({ ...body, o: this.id, m: id }), sender: this.id };
  }

  /**
   * Sends one message through `run` (a script that publishes it to the live instances concerned and
   * returns them, see lua.ts), with the degraded-mode retry loop, then waits for their acks or leases
   * ('fresh' mode).
   * Returns undefined when Redis could not be reached before the deadline (which has then passed).
   */
  private async broadcast(
    op: string,
    body: Omit<BusMessage, 'o' | 'm'>,
    run: (inbox: Addressing) => Promise<RegistryReply>,
    onRan?: () => void,
  ): Promise<{ acks: number; waitedForLeaseMs: number } | undefined> {
    const inbox = this.addressed(body);
    const waiter = this.mode === 'fresh' ? this.acks.expect(inbox.id) : undefined;
    const reply = await this.withRetry(op, () => run(inbox));
    if (reply === undefined) {
      waiter?.cancel();
      return undefined;
    }
    onRan?.();
    if (waiter === undefined) return { acks: 0, waitedForLeaseMs: 0 };
    const replyAt = performance.now();
    const expected = new Map<string, number>();
    for (const [id, expiry] of reply.live) {
      // The script ran before replyAt, so expiry - now counted from replyAt is never too early.
      if (id !== this.id) expected.set(id, replyAt + (expiry - reply.now) + 1);
    }
    const out = await waiter.wait(expected, replyAt, this.ackTimeoutMs);
    if (out.silent.length > 0) {
      this.log.warn(
        { op, silent: out.silent, waitedForLeaseMs: Math.round(out.waitedForLeaseMs) },
        'cache instances did not acknowledge; waited for their leases to expire',
      );
    }
    return { acks: out.acks, waitedForLeaseMs: out.waitedForLeaseMs };
  }

  /**
   * Retries a Redis write until firstFailure + leaseMs + redisTimeoutMs. Returns undefined when that
   * deadline passed without success: every instance's lease has lapsed by then (nobody could renew).
   */
  private async withRetry<T>(op: string, fn: () => Promise<T>): Promise<T | undefined> {
    let firstFailure: number | undefined;
    let delay = 5;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const now = performance.now();
        firstFailure ??= now;
        const deadline = firstFailure + this.leaseMs + this.timeoutMs;
        if (now >= deadline || this.closed) {
          this.log.warn({ op, err: errMessage(err) }, 'cache could not reach redis; waited out every lease, queued for replay');
          this.events.emit('error', { op, err });
          return undefined;
        }
        await sleep(Math.min(delay, deadline - now));
        delay = Math.min(delay * 2, 100);
      }
    }
  }

  private applyInvalidation(groups: readonly string[]): void {
    for (const g of groups) {
      const gs = this.groups.get(g);
      if (gs !== undefined) gs.gen++;
      this.l1.deleteGroup(g);
    }
  }

  /** Forgets everything this process keeps (L1, registrations) and voids its loads in flight. */
  private applyClear(): void {
    this.epoch++;
    this.l1.clear();
    this.registered.clear();
  }

  /** Groups whose invalidation could not reach Redis: sent as soon as it answers (see replay). */
  private queueReplay(groups: readonly string[]): void {
    for (const g of groups) this.pendingGroups.add(g);
    this.scheduleReplay();
  }

  private scheduleReplay(): void {
    if (this.replayTimer !== undefined || this.closed) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      void this.replay();
    }, 100);
    this.replayTimer.unref();
  }

  /** Sends queued invalidations/clears to Redis; nobody waits for their acks (the callers resolved). */
  private async replay(): Promise<void> {
    const l2 = this.l2;
    if (this.replaying || l2 === undefined || this.closed) return;
    if (this.pendingGroups.size === 0 && !this.pendingClear) return;
    this.replaying = true;
    try {
      if (this.pendingClear) {
        await l2.clear(this.addressed({ t: 'clr' }));
        await l2.sweep();
        this.pendingClear = false;
      }
      while (this.pendingGroups.size > 0) {
        const chunk = [...this.pendingGroups].slice(0, MAX_GROUPS_PER_SCRIPT);
        await l2.invalidate(chunk, this.addressed({ t: 'inv', g: chunk }), this.genTtlMs);
        for (const g of chunk) this.pendingGroups.delete(g);
      }
      this.log.info('cache queued invalidations replayed into redis');
    } catch (err) {
      this.log.debug({ err: errMessage(err) }, 'cache replay failed; will retry');
      this.scheduleReplay();
    } finally {
      this.replaying = false;
    }
  }

  // ---------------------------------------------------------------- bus, lease, redis state

  /** Our inbox: heartbeats of our lease, acks of our messages, invalidations and clears of others. */
  private onMessage(raw: string): void {
    if (raw.startsWith('hb:')) {
      this.lease?.onEcho(raw);
      return;
    }
    const m = parseMessage(raw);
    if (m === undefined || typeof m.m !== 'string') return;
    if (m.t === 'ack') {
      if (typeof m.f === 'string') this.acks.onAck(m.m, m.f);
      return;
    }
    if (typeof m.o !== 'string' || m.o === this.id) return;
    if (m.t === 'inv' && Array.isArray(m.g)) {
      const groups = m.g.filter((g): g is string => typeof g === 'string');
      this.n.remoteInvalidations += groups.length;
      this.applyInvalidation(groups);
    } else if (m.t === 'clr') {
      this.applyClear();
    } else {
      return;
    }
    // Applied above, synchronously; now tell the writer. Failure = the writer waits for our lease.
    const ack = JSON.stringify({ t: 'ack', m: m.m, f: this.id });
    this.l2?.publish(this.inboxPrefix + m.o, ack).catch((err: unknown) => {
      this.log.debug({ err: errMessage(err) }, 'cache ack failed; the writer will wait for our lease');
    });
  }

  private onRegained(redisNow: number): void {
    // Anything in L1 may have missed invalidations; loads in flight may have read old data.
    this.applyClear();
    if (this.everCoherent) this.n.flushes++;
    // L2 entries stored before now may predate a writer's invalidation that is still queued for
    // replay. Skipped for a first start that found Redis at once (cold L2 on every deploy otherwise).
    if (this.everCoherent || performance.now() - this.startedAt > this.leaseMs) this.l2TrustFromMs = redisNow;
    const first = !this.everCoherent;
    this.everCoherent = true;
    if (!first) this.log.info('cache coherent again: L1 flushed');
    this.events.emit('coherence', { coherent: true });
    for (const w of this.readyWaiters) w();
    this.readyWaiters.clear();
  }

  private onBusState(up: boolean): void {
    this.events.emit('busState', { state: up ? 'up' : 'down' });
    if (up) {
      this.log.info('cache bus subscribed');
      void this.lease?.beat(); // regain trust now rather than at the next tick
    } else {
      this.log.warn('cache bus disconnected: L1 not served until it is back');
      this.lease?.busDown();
    }
  }

  private onRedisState(up: boolean): void {
    this.events.emit('redisState', { state: up ? 'up' : 'down' });
    if (up) void this.replay();
  }

  private onRedisError(op: string, err: unknown): void {
    this.log.debug({ op, err: errMessage(err) }, 'cache redis call failed');
    if (this.events.has('error')) this.events.emit('error', { op, err });
  }

  // ---------------------------------------------------------------- misc

  stats(): CacheStats {
    const redis: LinkState = !this.enabled || this.l2 === undefined ? 'disabled' : this.l2.isUp ? 'up' : 'down';
    const bus: LinkState = !this.enabled || this.bus === undefined ? 'disabled' : this.bus.isUp ? 'up' : 'down';
    return {
      name: this.name,
      mode: this.mode,
      enabled: this.enabled,
      entries: this.l1.size,
      bytes: this.l1.bytes,
      capacity: this.l1MaxBytes,
      hits: { l1: this.n.l1Hits, l2: this.n.l2Hits },
      misses: this.n.misses,
      loads: this.n.loads,
      invalidations: this.n.invalidations,
      remoteInvalidations: this.n.remoteInvalidations,
      staleFillsRefused: this.n.staleFillsRefused,
      corruptEntries: this.n.corrupt,
      degradedInvalidations: this.n.degraded,
      pendingReplays: this.pendingGroups.size + (this.pendingClear ? 1 : 0),
      redis,
      bus,
      coherent: this.enabled && performance.now() < this.coh.trustUntil,
      breakerOpens: this.l2?.breaker.opens ?? 0,
      l1Flushes: this.n.flushes,
    };
  }

  ready(timeoutMs = 5000): Promise<void> {
    if (!this.enabled || this.lease === undefined || this.lease.coherent) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`cache ${this.name} is closed`));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        reject(new Error(`cache ${this.name} not coherent after ${timeoutMs} ms (redis or bus unreachable)`));
      }, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lease?.stop();
    if (this.replayTimer) clearTimeout(this.replayTimer);
    // Leave the registry so that writers stop waiting for us at once (best effort).
    if (this.l2?.isConnected) await this.l2.unregister(this.id).catch(() => undefined);
    this.bus?.close();
    this.l2?.close();
    this.l1.clear();
    this.groups.clear();
    this.flights.clear();
    this.holds.clear();
    this.events.removeAllListeners();
  }
}

export function createCacheEngine(opts: CacheEngineOptions): CacheEngine {
  return new Engine(opts);
}

function checkGroup(group: string): void {
  if (typeof group !== 'string' || group.includes(SEP)) throw new TypeError('cache group must be a string without NUL');
}

function parseMessage(raw: string): BusMessage | undefined {
  try {
    const m = JSON.parse(raw) as unknown;
    return typeof m === 'object' && m !== null ? (m as BusMessage) : undefined;
  } catch {
    return undefined;
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
