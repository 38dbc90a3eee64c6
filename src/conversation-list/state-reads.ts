import type { Logger } from 'pino';
import type { BatchLoader, Engine, Found } from '../cache/engine/index.js';
import type { Db } from '../db/index.js';
import { unreadCounts } from '../store/list-state.js';
import type { StateLoaders } from './loaders.js';
import { MEMBER, type ConversationState, type MemberState } from './state.js';

/** Marks an error thrown by a database load, so that it is not mistaken for a cache fault. */
export class LoadError extends Error {
  constructor(override readonly cause: unknown) {
    super('list state load failed');
  }
}

/**
 * How the list's readers (composed pages, push items) get the state they need beyond the cache: its
 * loaders (database errors marked as LoadError), member states read again and exact unread counts in
 * SQL (README.md: unread counts), counted for the stats.
 */
export class StateReads {
  readonly loadMembers: BatchLoader<MemberState>;
  readonly loadConversations: BatchLoader<ConversationState>;
  /** Member states read again for unread counts, and SQL statements counting them exactly (composes and pushes). */
  readonly unread = { refreshes: 0, exactCounts: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly db: Db,
    loaders: StateLoaders,
    private readonly logger: Logger,
    /** Checked once by the owner: the hit path must not pay for a disabled log level. */
    private readonly debug: boolean,
  ) {
    this.loadMembers = (ids) => this.load(() => loaders.members(ids));
    this.loadConversations = (ids) => this.load(() => loaders.conversations(ids));
  }

  /**
   * Member states read again, counts included: for unread counts the cached one cannot give (a
   * deletion, or more new messages than a conversation keeps since it was read). One batch for all.
   */
  async refreshMembers(userIds: readonly string[]): Promise<Map<string, Found<MemberState>>> {
    this.unread.refreshes += userIds.length;
    return this.engine.getMany<MemberState>(MEMBER, userIds, this.loadMembers, { fresh: true });
  }

  /**
   * Unread counts in SQL, one statement for all: for a conversation state older than the member state
   * (a write still on its way), which no member state read again would help with.
   */
  async exactCounts(pairs: ReadonlyArray<readonly [string, string]>): Promise<Map<string, Map<string, number>>> {
    this.unread.exactCounts++;
    return this.load(() => unreadCounts(this.db, pairs));
  }

  async load<T>(fn: () => Promise<T>): Promise<T> {
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
}
