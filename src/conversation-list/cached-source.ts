import type { Logger } from 'pino';
import type { CacheEngine, CacheEntry, WriteHold } from '../cache/engine/index.js';
import type { Transaction } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from '../domain/events.js';
import type { ListQuery } from '../domain/model.js';
import { userGroup, variantField } from './keys.js';
import type { InvalidationOutbox } from './outbox.js';
import type { ConversationListSource, ListOrigin, ListPage } from './source.js';

const ORIGIN: Record<'l1' | 'l2' | 'load', ListOrigin> = { l1: 'HIT-L1', l2: 'HIT-L2', load: 'MISS' };

/** Marks an error thrown by the database load, so that it is not mistaken for a cache fault. */
class LoadError extends Error {
  constructor(override readonly cause: unknown) {
    super('list load failed');
  }
}

/**
 * The seed's ConversationListCache, done so it can stay on:
 * - a decorator over the SQL source (same interface): every page and filter is cached, per user;
 * - a write subscriber: every domain write's event invalidates every affected user's lists, and the
 *   write answers only after that invalidation has taken effect on every instance (engine 'fresh' mode);
 * - an outbox row per write, so a crash between commit and invalidation is repaired by a sweeper;
 * - cache faults never fail a request: the list is then read from the database.
 */
export class ConversationListCache implements ConversationListSource, WriteSubscriber {
  private readonly debug: boolean;

  constructor(
    private readonly engine: CacheEngine,
    private readonly origin: ConversationListSource,
    private readonly outbox: InvalidationOutbox | undefined,
    private readonly logger: Logger,
  ) {
    // Checked once: the hit path must not pay for a disabled log level.
    this.debug = logger.isLevelEnabled('debug');
    engine.events.on('redisState', ({ state }) =>
      state === 'down'
        ? logger.warn('[CACHE] Redis unavailable: lists come from process memory (while coherent) or the database')
        : logger.info('[CACHE] Redis available again'),
    );
    engine.events.on('busState', ({ state }) =>
      state === 'down' ? logger.warn('[CACHE] invalidation bus down') : logger.info('[CACHE] invalidation bus up'),
    );
    engine.events.on('coherence', ({ coherent }) =>
      coherent
        ? logger.info('[CACHE] L1 coherent again (flushed: invalidations may have been missed)')
        : logger.warn('[CACHE] L1 lease lapsed: memory entries are not served until the bus proves alive'),
    );
    engine.events.on('breakerOpen', ({ failures }) =>
      logger.warn({ failures }, '[CACHE] Redis circuit breaker open: skipping Redis until a probe succeeds'),
    );
  }

  private toPage(entry: CacheEntry, origin: ListOrigin): ListPage {
    return { body: entry.value, etag: entry.meta, origin };
  }

  peek(userId: string, query: ListQuery): ListPage | undefined {
    const entry = this.engine.peek(userGroup(userId), variantField(query));
    if (!entry) return undefined;
    if (this.debug) this.logger.debug({ userId, level: 'L1', ageMs: Date.now() - entry.storedAt }, '[CACHE-HIT]');
    return this.toPage(entry, 'HIT-L1');
  }

  async page(userId: string, query: ListQuery): Promise<ListPage> {
    const load = async () => {
      if (this.debug) this.logger.debug({ userId }, '[CACHE-MISS] loading from the database');
      try {
        const p = await this.origin.page(userId, query);
        return { value: p.body, meta: p.etag };
      } catch (err) {
        throw new LoadError(err);
      }
    };
    try {
      const { entry, source } = await this.engine.get(userGroup(userId), variantField(query), load);
      if (this.debug && source !== 'load') {
        this.logger.debug({ userId, level: source.toUpperCase(), ageMs: Date.now() - entry.storedAt }, '[CACHE-HIT]');
      }
      return this.toPage(entry, ORIGIN[source]);
    } catch (err) {
      if (err instanceof LoadError) throw err.cause;
      // A fault of the cache itself: answer from the database.
      this.logger.error({ err, userId }, '[CACHE-ERROR] cache read failed, serving from the database');
      return this.origin.page(userId, query);
    }
  }

  /** The write's users are known: invalidate and hold their lists while its transaction runs. */
  begin(userIds: readonly string[]): WriteHold {
    return this.engine.hold(userIds.map(userGroup));
  }

  /**
   * The outbox row, unless this write's hold is already in Redis for every affected user: then a crash
   * after the commit leaves nothing to repair (see WriteHold.inRedis), and the row — a statement, a
   * WAL record and a later DELETE on every write — is saved. Short writes (most) are in that case.
   */
  inTransaction(tx: Transaction, event: WriteEvent, begun: unknown): Promise<unknown> {
    if (!this.outbox) return Promise.resolve(undefined);
    if ((begun as WriteHold | undefined)?.inRedis(event.affectedUserIds.map(userGroup))) return Promise.resolve(undefined);
    return this.outbox.record(tx, event.affectedUserIds);
  }

  async afterCommit(event: WriteEvent, { begun, recorded }: { begun: unknown; recorded: unknown }): Promise<void> {
    const hold = begun as WriteHold | undefined;
    await this.invalidateUsers(event.affectedUserIds, event, hold);
    if (typeof recorded === 'string') this.outbox?.complete(recorded);
  }

  afterAbort(begun: unknown): void {
    (begun as WriteHold | undefined)?.abort();
  }

  /**
   * Drops every cached list of these users, on every instance (with a hold begun by this write: only
   * what the hold has not done already). Never throws: the write is already durable.
   */
  async invalidateUsers(userIds: readonly string[], event?: WriteEvent, hold?: WriteHold): Promise<void> {
    const started = performance.now();
    try {
      const groups = userIds.map(userGroup);
      const report = hold ? await hold.commit(groups) : await this.engine.invalidate(groups);
      const fields = {
        kind: event?.kind,
        conversationId: event?.conversationId,
        users: userIds.length,
        ms: Math.round(report.ms * 100) / 100,
        afterCommitMs: Math.round((performance.now() - started) * 100) / 100,
        acks: report.acks,
        waitedForLeaseMs: report.waitedForLeaseMs,
      };
      if (report.degraded) this.logger.warn(fields, '[CACHE-INVALIDATE] Redis unreachable: waited out leases, replay queued');
      else if (this.debug) this.logger.debug(fields, '[CACHE-INVALIDATE]');
    } catch (err) {
      this.logger.error(
        { err, conversationId: event?.conversationId, users: userIds.length, ms: performance.now() - started },
        '[CACHE-INVALIDATE] failed',
      );
    }
  }

  /** The seed's clearAllConversationCache(): L1 of every instance, and L2. */
  async clear(): Promise<void> {
    await this.engine.clear();
    this.logger.info('[CACHE-CLEAR] conversation-list cache cleared on every instance');
  }

  /** The seed's getCacheStats(), with the contract's names first. */
  stats(): Record<string, unknown> {
    const s = this.engine.stats();
    return {
      name: 'conversations-list',
      memorySize: s.entries,
      memoryBytes: s.bytes,
      memoryCapacity: s.capacity,
      hits: s.hits,
      misses: s.misses,
      invalidations: s.invalidations,
      redis: s.redis,
      bus: s.bus,
      coherent: s.coherent,
      mode: s.mode,
      loads: s.loads,
      staleFillsRefused: s.staleFillsRefused,
      corruptEntries: s.corruptEntries,
      degradedInvalidations: s.degradedInvalidations,
      pendingReplays: s.pendingReplays,
      breakerOpens: s.breakerOpens,
      l1Flushes: s.l1Flushes,
    };
  }
}
