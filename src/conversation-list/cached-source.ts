import type { Logger } from 'pino';
import type { BatchLoader, DerivedCache, Engine, Found, Update } from '../cache/engine/index.js';
import type { Db, Transaction } from '../db/index.js';
import type { WriteEvent, WriteSubscriber } from '../domain/events.js';
import type { ListQuery } from '../model/model.js';
import { loadConversationStates, loadMemberStates, unreadCounts } from '../store/list-state.js';
import type { StateLoaders } from './loaders.js';
import { composePage, itemJson } from './compose.js';
import { unreadCount } from './unread.js';
import { encodeListBody, etagOf } from './encode.js';
import { conversationPiece, memberPiece, variantField } from './keys.js';
import { busNote, encodeNote, journalNote } from './note.js';
import type { OwedPieces, PublicationOutbox } from './outbox.js';
import { CachedPage } from './page.js';
import type { ConversationListSource, ListOrigin, ListPage } from './source.js';
import {
  CONVERSATION,
  MEMBER,
  RECENT_MESSAGES,
  conversationFromRow,
  memberFromRow,
  withNewMessage,
  type ConversationState,
  type MemberState,
} from './state.js';

/** Marks an error thrown by a database load, so that it is not mistaken for a cache fault. */
class LoadError extends Error {
  constructor(override readonly cause: unknown) {
    super('list state load failed');
  }
}

/**
 * Conversation states a compose loads from the database before answering, at most; past it the list
 * query answers (it reads only the page) while they load in the background.
 */
const LOAD_AT_ONCE_MAX = 64;

/** A deleted conversation's piece: newer than any version it had, so no load of old data can replace it. */
export const DELETED_VERSION = Number.MAX_SAFE_INTEGER;

/** One user's share of a push: their member state as the caller holds it, and the conversations to show. */
export interface ItemRequest {
  userId: string;
  member: MemberState;
  conversationIds: readonly string[];
}

export interface ManyItems {
  /** User id -> conversation id -> the item's JSON, for the conversations in that user's list. */
  items: Map<string, Map<string, string>>;
  /** Member states read again for unread counts (newer than the ones asked with), by user. */
  refreshed: Map<string, MemberState>;
}

/** What a write carries from its transaction to after its commit. */
interface Carried {
  updates: Update[];
  outboxId: string | undefined;
}

const RANK: Record<'l1' | 'l2' | 'load', number> = { l1: 0, l2: 1, load: 2 };
const ORIGIN: ListOrigin[] = ['HIT-L1', 'HIT-L2', 'MISS'];

/**
 * The conversation list, composed from cached state (README.md in this folder):
 * - a decorator over the SQL source (same interface): a page is composed in memory from the user's
 *   member state and their conversations' states; composed pages are kept, with their ETag, until a
 *   piece they were composed from changes;
 * - a write subscriber: in the write's transaction it reads the new state of every piece the write
 *   changed (under the write's own locks), and after commit the engine installs it everywhere before
 *   the write answers; an outbox row covers a crash in between;
 * - cache faults never fail a request: the list is then read from the database.
 */
export class ConversationListCache implements ConversationListSource, WriteSubscriber<Carried> {
  private readonly debug: boolean;
  private readonly pages: DerivedCache<CachedPage>;
  private readonly loadMembers: BatchLoader<MemberState>;
  private readonly loadConversations: BatchLoader<ConversationState>;
  /** Where list answers came from (X-Cache), the contract's hits and misses. */
  private readonly answers = { l1: 0, l2: 0, miss: 0 };
  /** Users whose conversation states are loading in the background (one load per user at a time). */
  private readonly warming = new Set<string>();
  /** Member states read again for unread counts, and SQL statements counting them exactly (composes and pushes; README.md: unread counts). */
  private readonly unread = { refreshes: 0, exactCounts: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly db: Db,
    loaders: StateLoaders,
    private readonly origin: ConversationListSource,
    private readonly outbox: PublicationOutbox | undefined,
    private readonly logger: Logger,
    pageBytes: number,
  ) {
    this.loadMembers = (ids) => this.load(() => loaders.members(ids));
    this.loadConversations = (ids) => this.load(() => loaders.conversations(ids));
    // Checked once: the hit path must not pay for a disabled log level.
    this.debug = logger.isLevelEnabled('debug');
    this.pages = engine.derived<CachedPage>('pages', { maxBytes: pageBytes, sizeOf: (p) => p.bytes });
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

  // ---------------------------------------------------------------- reads

  peek(userId: string, query: ListQuery): ListPage | undefined {
    const p = this.pages.peek(userId, variantField(query));
    if (p === undefined) return undefined;
    this.answers.l1++;
    if (this.debug) this.logger.debug({ userId, level: 'L1' }, '[CACHE-HIT]');
    return p.page('HIT-L1');
  }

  async page(userId: string, query: ListQuery): Promise<ListPage> {
    const hit = this.peek(userId, query);
    if (hit) return hit;
    // Nothing composed now could be kept, and composing from the database costs more than the list query.
    if (!this.engine.coherent()) return this.fromDatabase(userId, query);
    try {
      return await this.compose(userId, query);
    } catch (err) {
      if (err instanceof LoadError) throw err.cause;
      this.logger.error({ err, userId }, '[CACHE-ERROR] composing the list failed, serving from the database');
      return this.fromDatabase(userId, query);
    }
  }

  private async fromDatabase(userId: string, query: ListQuery): Promise<ListPage> {
    this.answers.miss++;
    const p = await this.origin.page(userId, query);
    return { ...p, origin: 'MISS' };
  }

  private async compose(userId: string, query: ListQuery): Promise<ListPage> {
    const other = query.withUserId !== undefined && query.withUserId !== userId ? query.withUserId : undefined;
    const users = other === undefined ? [userId] : [userId, other];
    const token = this.pages.begin(userId, users.map(memberPiece));
    let rank = 0;
    const seen = (found: Map<string, Found<unknown>>): void => {
      for (const f of found.values()) rank = Math.max(rank, RANK[f.source]);
    };

    let members = await this.engine.getMany<MemberState>(MEMBER, users, this.loadMembers);
    seen(members);
    let conversations = new Map<string, ConversationState>();
    let exactUnread: Map<string, number> | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const me = members.get(userId)?.entry.value;
      if (me == null) throw new Error(`no member state for user ${userId}`);
      const wanted = me.memberships.map((m) => m.c).filter((c) => !conversations.has(c));
      if (wanted.length > 0) {
        this.pages.dependOn(token, wanted.map(conversationPiece));
        const found = await this.engine.getMany<ConversationState>(CONVERSATION, wanted, this.loadConversations, { cachedOnly: true });
        const missing = wanted.filter((c) => !found.has(c));
        if (missing.length > LOAD_AT_ONCE_MAX) {
          // A user with many conversations none of which is cached (a cold start): one list query now
          // is cheaper than loading all their states first; they load in the background for next time.
          if (!this.warming.has(userId)) {
            this.warming.add(userId);
            this.engine
              .getMany(CONVERSATION, missing, this.loadConversations, { fresh: true })
              .catch((err: unknown) => this.logger.warn({ err: String(err), userId }, '[CACHE] background load of conversation states failed'))
              .finally(() => this.warming.delete(userId));
          }
          return this.fromDatabase(userId, query);
        }
        if (missing.length > 0) for (const [id, f] of await this.engine.getMany<ConversationState>(CONVERSATION, missing, this.loadConversations, { fresh: true })) found.set(id, f);
        seen(found);
        for (const [id, f] of found) if (f.entry.value !== null) conversations.set(id, f.entry.value);
      }
      const out = composePage({
        viewer: userId,
        member: me,
        conversations,
        query,
        other: other === undefined ? undefined : (members.get(other)?.entry.value ?? undefined),
        exactUnread,
      });
      if (out.ok) {
        const body = encodeListBody(out.rows, query);
        const page = new CachedPage(body, etagOf(body));
        this.pages.set(token, variantField(query), page);
        if (rank === RANK.l1) this.answers.l1++;
        else if (rank === RANK.l2) this.answers.l2++;
        else this.answers.miss++;
        if (this.debug) this.logger.debug({ userId, origin: ORIGIN[rank] }, '[CACHE-COMPOSE]');
        return page.page(ORIGIN[rank]!);
      }
      rank = RANK.load;
      if (attempt === 0) {
        members = new Map([...members, ...(await this.refreshMembers([userId]))]);
        conversations = new Map(conversations);
      } else {
        const exact = await this.exactCounts(out.uncounted.map((c) => [userId, c] as const));
        exactUnread = new Map([...(exactUnread ?? []), ...(exact.get(userId) ?? [])]);
      }
    }
    // Memberships moving under our feet on every attempt (writes in flight): the database answers.
    return this.fromDatabase(userId, query);
  }

  /**
   * Member states read again, counts included: for unread counts the cached one cannot give (a
   * deletion, or more new messages than a conversation keeps since it was read). One batch for all.
   */
  private async refreshMembers(userIds: readonly string[]): Promise<Map<string, Found<MemberState>>> {
    this.unread.refreshes += userIds.length;
    return this.engine.getMany<MemberState>(MEMBER, userIds, this.loadMembers, { fresh: true });
  }

  /**
   * Unread counts in SQL, one statement for all: for a conversation state older than the member state
   * (a write still on its way), which no member state read again would help with.
   */
  private async exactCounts(pairs: ReadonlyArray<readonly [string, string]>): Promise<Map<string, Map<string, number>>> {
    this.unread.exactCounts++;
    return this.load(() => unreadCounts(this.db, pairs));
  }

  private async load<T>(fn: () => Promise<T>): Promise<T> {
    if (this.debug) this.logger.debug('[CACHE-MISS] loading list state from the database');
    try {
      return await fn();
    } catch (err) {
      throw new LoadError(err);
    }
  }

  /**
   * A user's member state, at least at `atLeast` (read again from the database when what the cache
   * holds is older: a write still on its way to this instance).
   */
  async memberState(userId: string, atLeast = 0): Promise<MemberState> {
    let found = (await this.engine.getMany<MemberState>(MEMBER, [userId], this.loadMembers)).get(userId);
    if (found === undefined || found.entry.version < atLeast) {
      found = (await this.engine.getMany<MemberState>(MEMBER, [userId], this.loadMembers, { fresh: true })).get(userId);
    }
    if (found?.entry.value == null) throw new Error(`no member state for user ${userId}`);
    return found.entry.value;
  }

  /**
   * The items of these conversations as `userId` sees them now, for those in the user's list (the
   * others are left out): what a changes feed returns. A conversation's state older than `atLeast`
   * says is read again from the database.
   */
  async itemsFor(userId: string, member: MemberState, conversationIds: readonly string[], atLeast?: ReadonlyMap<string, number>): Promise<Map<string, string>> {
    const { items } = await this.itemsForMany([{ userId, member, conversationIds }], atLeast);
    return items.get(userId) ?? new Map();
  }

  /**
   * itemsFor for many users at once (a push to every connected member of a conversation): the
   * conversations' states are read once for all, and the unread counts the cached states cannot give
   * take what a compose takes (member states read again, then SQL), each one batch for every user
   * that needs it. Returns the items by user, and the member states read again meanwhile (newer than
   * the ones given), by user.
   */
  async itemsForMany(requests: readonly ItemRequest[], atLeast?: ReadonlyMap<string, number>): Promise<ManyItems> {
    const items = new Map<string, Map<string, string>>();
    const refreshed = new Map<string, MemberState>();
    const wanted = new Set<string>();
    for (const r of requests) for (const c of r.conversationIds) if (r.member.conversationIds.has(c)) wanted.add(c);
    if (wanted.size === 0) return { items, refreshed };
    const ids = [...wanted];
    const found = await this.engine.getMany<ConversationState>(CONVERSATION, ids, this.loadConversations);
    const stale = ids.filter((c) => (found.get(c)?.entry.version ?? -1) < (atLeast?.get(c) ?? 0));
    if (stale.length > 0) {
      for (const [id, f] of await this.engine.getMany<ConversationState>(CONVERSATION, stale, this.loadConversations, { fresh: true })) found.set(id, f);
    }
    const states = new Map<string, ConversationState>();
    for (const [id, f] of found) if (f.entry.value != null) states.set(id, f.entry.value);

    /** Counts what this member state can; the conversations it cannot count are returned. */
    const count = (r: ItemRequest, member: MemberState): string[] => {
      const viewer = Number(r.userId);
      const byId = new Map(member.memberships.map((m) => [m.c, m]));
      const mine = new Map<string, string>();
      const uncounted: string[] = [];
      for (const c of r.conversationIds) {
        const m = byId.get(c);
        const state = states.get(c);
        if (m === undefined || state === undefined) continue;
        const n = unreadCount(viewer, m, state);
        if (n === undefined) uncounted.push(c);
        else mine.set(c, itemJson(r.userId, state, n));
      }
      items.set(r.userId, mine);
      return uncounted;
    };

    const behind = requests.filter((r) => count(r, r.member).length > 0);
    if (behind.length === 0) return { items, refreshed };
    const members = await this.refreshMembers(behind.map((r) => r.userId));
    const pairs: Array<readonly [string, string]> = [];
    for (const r of behind) {
      const member = members.get(r.userId)?.entry.value ?? r.member;
      if (member !== r.member) refreshed.set(r.userId, member);
      for (const c of count(r, member)) pairs.push([r.userId, c]);
    }
    if (pairs.length === 0) return { items, refreshed };
    const exact = await this.exactCounts(pairs);
    for (const [userId, c] of pairs) {
      const n = exact.get(userId)?.get(c);
      const state = states.get(c);
      if (n !== undefined && state !== undefined) items.get(userId)!.set(c, itemJson(userId, state, n));
    }
    return { items, refreshed };
  }

  /** The engine this list is cached in (its events drive the push). */
  get cacheEngine(): Engine {
    return this.engine;
  }

  // ---------------------------------------------------------------- writes

  /**
   * The new state of every piece the write changed, read inside its transaction: the write holds the
   * locks that order these versions (src/store/list-state.ts), so what it reads is exactly its version.
   */
  async inTransaction(tx: Transaction, event: WriteEvent): Promise<Carried> {
    const updates = this.partialUpdate(event) ?? (await readPieces(tx, event.changed.conversations, event.changed.memberLists));
    const outboxId = this.outbox?.record(tx, { userIds: [...event.changed.memberLists], conversationIds: [...event.changed.conversations] });
    return { updates, outboxId };
  }

  /**
   * A new message whose conversation's state this process holds at the version just before: the new
   * state is that one with the message added (partial update), no query. Anything else (another
   * version here, several pieces changed, another kind of write) reads the state in the transaction.
   */
  private partialUpdate(event: WriteEvent): Update[] | undefined {
    const { message, conversationVersion: version, conversationId } = event;
    if (event.kind !== 'message.created' || !message || version === undefined || conversationId === null) return undefined;
    if (event.changed.memberLists.length > 0 || event.changed.conversations.length !== 1) return undefined;
    const prev = this.engine.peek<ConversationState>(CONVERSATION, conversationId);
    if (prev?.value == null || prev.version !== version - 1) return undefined;
    return [{ kind: CONVERSATION, id: conversationId, version, value: withNewMessage(prev.value, message) }];
  }

  async afterCommit(event: WriteEvent, carried: Carried | undefined): Promise<void> {
    if (carried === undefined) return;
    const done = await this.publish(carried.updates, event);
    // Not done (Redis unreachable): the row stays, so that another instance republishes if this one dies
    // before its own replay lands.
    if (carried.outboxId !== undefined && done) this.outbox?.complete(carried.outboxId);
  }

  /** Installs new versions everywhere; false when they could only be queued. Never throws: the write is durable. */
  private async publish(updates: Update[], event?: WriteEvent): Promise<boolean> {
    const started = performance.now();
    try {
      const versions = new Map(updates.map((u) => [`${u.kind}:${u.id}`, u.version]));
      const notes = event ? { note: encodeNote(busNote(event, versions)), journal: encodeNote(journalNote(event, versions)) } : {};
      const report = await this.engine.publish(updates, notes);
      const fields = {
        kind: event?.kind,
        conversationId: event?.conversationId,
        pieces: updates.length,
        ms: Math.round(report.ms * 100) / 100,
        acks: report.acks,
        waitedForLeaseMs: report.waitedForLeaseMs,
      };
      if (report.degraded) this.logger.warn(fields, '[CACHE-PUBLISH] Redis unreachable: new versions queued for replay');
      else if (this.debug) this.logger.debug(fields, '[CACHE-PUBLISH]');
      return !report.degraded;
    } catch (err) {
      this.logger.error({ err, conversationId: event?.conversationId, ms: performance.now() - started }, '[CACHE-PUBLISH] failed');
      return false;
    }
  }

  /** The outbox sweeper's replay: the owed pieces, read again from the database, published. */
  async republish(owed: OwedPieces): Promise<void> {
    const updates = await readPieces(this.db, owed.conversationIds, owed.userIds);
    if (!(await this.publish(updates))) throw new Error('republish could not reach Redis');
  }

  /** The seed's clearAllConversationCache(): every instance's memory, and Redis. */
  async clear(): Promise<void> {
    await this.engine.clear();
    this.logger.info('[CACHE-CLEAR] conversation-list cache cleared on every instance');
  }

  /** Where list answers came from: the contract's hits (by level) and misses. */
  served(): { hits: { l1: number; l2: number }; misses: number } {
    return { hits: { l1: this.answers.l1, l2: this.answers.l2 }, misses: this.answers.miss };
  }

  /** The seed's getCacheStats(), with the contract's names first. */
  stats(): Record<string, unknown> {
    const s = this.engine.stats();
    return {
      name: 'conversations-list',
      memorySize: s.entries + this.pages.size,
      memoryBytes: s.bytes + this.pages.bytes,
      memoryCapacity: s.capacity,
      hits: { l1: this.answers.l1, l2: this.answers.l2 },
      misses: this.answers.miss,
      invalidations: s.published,
      redis: s.redis,
      bus: s.bus,
      coherent: s.coherent,
      mode: s.mode,
      pieces: s.entries,
      pages: this.pages.size,
      pageBytes: this.pages.bytes,
      unreadRefreshes: this.unread.refreshes,
      unreadExactCounts: this.unread.exactCounts,
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

/** The current state of these pieces, as updates (a conversation that is gone: its tombstone). */
async function readPieces(db: Transaction | Db, conversationIds: readonly string[], userIds: readonly string[]): Promise<Update[]> {
  const updates: Update[] = [];
  if (conversationIds.length > 0) {
    const rows = await loadConversationStates(db, conversationIds, RECENT_MESSAGES);
    const found = new Set<string>();
    for (const r of rows) {
      const { version, state } = conversationFromRow(r);
      updates.push({ kind: CONVERSATION, id: r.id, version, value: state });
      found.add(r.id);
    }
    for (const id of conversationIds) if (!found.has(id)) updates.push({ kind: CONVERSATION, id, version: DELETED_VERSION, value: null });
  }
  if (userIds.length > 0) {
    for (const r of await loadMemberStates(db, userIds)) {
      const { version, state } = memberFromRow(r);
      updates.push({ kind: MEMBER, id: r.userId, version, value: state });
    }
  }
  return updates;
}
