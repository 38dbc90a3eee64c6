import type { Logger } from 'pino';
import type { Engine } from '../cache/engine/index.js';
import type { Db, Transaction } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from '../domain/events.js';
import type { ListQuery } from '../model/model.js';
import type { StateLoaders } from './loaders.js';
import type { OwedPieces, PublicationOutbox } from './outbox.js';
import { PageComposer } from './page-composer.js';
import { ListPublisher, type Carried } from './publisher.js';
import { PushItems, type ItemRequest, type ManyItems } from './push-items.js';
import type { ConversationListSource, ListPage } from './source.js';
import type { MemberState } from './state.js';
import { StateReads } from './state-reads.js';

export { DELETED_VERSION } from './publisher.js';
export type { ItemRequest, ManyItems } from './push-items.js';

/**
 * The conversation list, composed from cached state (README.md in this folder), made of:
 * - a decorator over the SQL source (same interface): pages composed in memory and kept with their
 *   ETag until a piece they were composed from changes (page-composer.ts);
 * - a write subscriber: each write's new pieces installed everywhere before the write answers, an
 *   outbox row covering a crash in between (publisher.ts);
 * - single items for the push and the changes feed (push-items.ts);
 * - cache faults never fail a request: the list is then read from the database.
 */
export class ConversationListCache implements ConversationListSource, WriteSubscriber<Carried> {
  private readonly reads: StateReads;
  private readonly composer: PageComposer;
  private readonly items: PushItems;
  private readonly publisher: ListPublisher;

  constructor(
    private readonly engine: Engine,
    db: Db,
    loaders: StateLoaders,
    origin: ConversationListSource,
    outbox: PublicationOutbox | undefined,
    private readonly logger: Logger,
    pageBytes: number,
  ) {
    // Checked once: the hit path must not pay for a disabled log level.
    const debug = logger.isLevelEnabled('debug');
    this.reads = new StateReads(engine, db, loaders, logger, debug);
    this.composer = new PageComposer(engine, this.reads, origin, logger, debug, pageBytes);
    this.items = new PushItems(engine, this.reads);
    this.publisher = new ListPublisher(engine, db, outbox, logger, debug);
    engine.events.on('redisState', ({ state }) =>
      state === 'down'
        ? logger.warn('[CACHE] Redis unavailable: lists come from process memory (while coherent) or the database')
        : logger.info('[CACHE] Redis available again'),
    );
    engine.events.on('busState', ({ state }) =>
      state === 'down' ? logger.warn('[CACHE] bus down') : logger.info('[CACHE] bus up'),
    );
    engine.events.on('coherence', ({ coherent }) =>
      coherent
        ? logger.info('[CACHE] memory coherent again (flushed: writes may have been missed)')
        : logger.warn('[CACHE] lease lapsed: memory is not served until the bus proves alive'),
    );
    engine.events.on('breakerOpen', ({ failures }) =>
      logger.warn({ failures }, '[CACHE] Redis circuit breaker open: skipping Redis until a probe succeeds'),
    );
  }

  peek(userId: string, query: ListQuery): ListPage | undefined {
    return this.composer.peek(userId, query);
  }

  page(userId: string, query: ListQuery): Promise<ListPage> {
    return this.composer.page(userId, query);
  }

  /**
   * A user's member state, at least at `atLeast` (read again from the database when what the cache
   * holds is older: a write still on its way to this instance).
   */
  memberState(userId: string, atLeast = 0): Promise<MemberState> {
    return this.reads.memberState(userId, atLeast);
  }

  /** See PushItems.itemsFor. */
  itemsFor(userId: string, member: MemberState, conversationIds: readonly string[], atLeast?: ReadonlyMap<string, number>): Promise<Map<string, string>> {
    return this.items.itemsFor(userId, member, conversationIds, atLeast);
  }

  /** See PushItems.itemsForMany. */
  itemsForMany(requests: readonly ItemRequest[], atLeast?: ReadonlyMap<string, number>): Promise<ManyItems> {
    return this.items.itemsForMany(requests, atLeast);
  }

  /** The engine this list is cached in (its events drive the push). */
  get cacheEngine(): Engine {
    return this.engine;
  }

  inTransaction(tx: Transaction, event: WriteEvent): Promise<Carried> {
    return this.publisher.inTransaction(tx, event);
  }

  afterCommit(event: WriteEvent, carried: Carried | undefined): Promise<void> {
    return this.publisher.afterCommit(event, carried);
  }

  /** The outbox sweeper's replay: the owed pieces, read again from the database, published. */
  republish(owed: OwedPieces): Promise<void> {
    return this.publisher.republish(owed);
  }

  /** The seed's clearAllConversationCache(): every instance's memory, and Redis. */
  async clear(): Promise<void> {
    await this.engine.clear();
    this.logger.info('[CACHE-CLEAR] conversation-list cache cleared on every instance');
  }

  /** Where list answers came from: the contract's hits (by level) and misses. */
  served(): { hits: { l1: number; l2: number }; misses: number } {
    return { hits: { l1: this.composer.answers.l1, l2: this.composer.answers.l2 }, misses: this.composer.answers.miss };
  }

  /** The seed's getCacheStats(), with the contract's names first. */
  stats(): Record<string, unknown> {
    const s = this.engine.stats();
    return {
      name: 'conversations-list',
      memorySize: s.entries + this.composer.size,
      memoryBytes: s.bytes + this.composer.bytes,
      memoryCapacity: s.capacity,
      hits: { l1: this.composer.answers.l1, l2: this.composer.answers.l2 },
      misses: this.composer.answers.miss,
      invalidations: s.published,
      redis: s.redis,
      bus: s.bus,
      coherent: s.coherent,
      mode: s.mode,
      pieces: s.entries,
      pages: this.composer.size,
      pageBytes: this.composer.bytes,
      unreadRefreshes: this.reads.unread.refreshes,
      unreadExactCounts: this.reads.unread.exactCounts,
      pieceHits: s.hits,
      pieceMisses: s.misses,
      loads: s.loads,
      published: s.published,
      received: s.received,
      staleFillsRefused: s.staleFillsRefused,
      corruptEntries: s.corruptEntries,
      degradedPublishes: s.degradedPublishes,
      pendingReplays: s.pendingReplays,
      breakerOpens: s.breakerOpens,
      l1Flushes: s.l1Flushes,
      l2BytesWritten: s.l2BytesWritten,
      l2ValuesWritten: s.l2ValuesWritten,
    };
  }
}
