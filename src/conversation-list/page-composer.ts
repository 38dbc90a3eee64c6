import type { Logger } from 'pino';
import type { DerivedCache, Engine, Found } from '../cache/engine/index.js';
import type { ListQuery } from '../model/model.js';
import { composePage } from './compose.js';
import { encodeListBody, etagOf } from './encode.js';
import { conversationPiece, memberPiece, variantField } from './keys.js';
import { CachedPage } from './page.js';
import type { ConversationListSource, ListOrigin, ListPage } from './source.js';
import { CONVERSATION, MEMBER, type ConversationState, type MemberState } from './state.js';
import { LoadError, type StateReads } from './state-reads.js';

/**
 * Conversation states a compose loads from the database before answering, at most; past it the list
 * query answers (it reads only the page) while they load in the background.
 */
const LOAD_AT_ONCE_MAX = 64;

const RANK: Record<'l1' | 'l2' | 'load', number> = { l1: 0, l2: 1, load: 2 };
const ORIGIN: ListOrigin[] = ['HIT-L1', 'HIT-L2', 'MISS'];

/**
 * List pages composed in memory from the user's member state and their conversations' states, kept
 * with their ETag until a piece they were composed from changes; the SQL source answers when the
 * cache cannot (not coherent, a cold start, a cache fault).
 */
export class PageComposer {
  private readonly pages: DerivedCache<CachedPage>;
  /** Where list answers came from (X-Cache), the contract's hits and misses. */
  readonly answers = { l1: 0, l2: 0, miss: 0 };
  /** Users whose conversation states are loading in the background (one load per user at a time). */
  private readonly warming = new Set<string>();

  constructor(
    private readonly engine: Engine,
    private readonly reads: StateReads,
    private readonly origin: ConversationListSource,
    private readonly logger: Logger,
    private readonly debug: boolean,
    pageBytes: number,
  ) {
    this.pages = engine.derived<CachedPage>('pages', { maxBytes: pageBytes, sizeOf: (p) => p.bytes });
  }

  get size(): number {
    return this.pages.size;
  }

  get bytes(): number {
    return this.pages.bytes;
  }

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

    let members = await this.engine.getMany<MemberState>(MEMBER, users, this.reads.loadMembers);
    seen(members);
    let conversations = new Map<string, ConversationState>();
    let exactUnread: Map<string, number> | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const me = members.get(userId)?.entry.value;
      if (me == null) throw new Error(`no member state for user ${userId}`);
      const wanted = me.memberships.map((m) => m.c).filter((c) => !conversations.has(c));
      if (wanted.length > 0) {
        this.pages.dependOn(token, wanted.map(conversationPiece));
        const found = await this.engine.getMany<ConversationState>(CONVERSATION, wanted, this.reads.loadConversations, { cachedOnly: true });
        const missing = wanted.filter((c) => !found.has(c));
        if (missing.length > LOAD_AT_ONCE_MAX) {
          // A user with many conversations none of which is cached (a cold start): one list query now
          // is cheaper than loading all their states first; they load in the background for next time.
          if (!this.warming.has(userId)) {
            this.warming.add(userId);
            this.engine
              .getMany(CONVERSATION, missing, this.reads.loadConversations, { fresh: true })
              .catch((err: unknown) => this.logger.warn({ err: String(err), userId }, '[CACHE] background load of conversation states failed'))
              .finally(() => this.warming.delete(userId));
          }
          return this.fromDatabase(userId, query);
        }
        if (missing.length > 0) for (const [id, f] of await this.engine.getMany<ConversationState>(CONVERSATION, missing, this.reads.loadConversations, { fresh: true })) found.set(id, f);
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
        members = new Map([...members, ...(await this.reads.refreshMembers([userId]))]);
        conversations = new Map(conversations);
      } else {
        const exact = await this.reads.exactCounts(out.uncounted.map((c) => [userId, c] as const));
        exactUnread = new Map([...(exactUnread ?? []), ...(exact.get(userId) ?? [])]);
      }
    }
    // Memberships moving under our feet on every attempt (writes in flight): the database answers.
    return this.fromDatabase(userId, query);
  }
}
