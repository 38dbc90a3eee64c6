import type { Engine } from '../cache/engine/index.js';
import { itemJson } from './compose.js';
import { CONVERSATION, type ConversationState, type MemberState } from './state.js';
import type { StateReads } from './state-reads.js';
import { unreadCount } from './unread.js';

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

/** List items one at a time, as a push sends them and a changes feed returns them (not whole pages). */
export class PushItems {
  constructor(
    private readonly engine: Engine,
    private readonly reads: StateReads,
  ) {}

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
    const found = await this.engine.getMany<ConversationState>(CONVERSATION, ids, this.reads.loadConversations);
    const stale = ids.filter((c) => (found.get(c)?.entry.version ?? -1) < (atLeast?.get(c) ?? 0));
    if (stale.length > 0) {
      for (const [id, f] of await this.engine.getMany<ConversationState>(CONVERSATION, stale, this.reads.loadConversations, { fresh: true })) found.set(id, f);
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
    const members = await this.reads.refreshMembers(behind.map((r) => r.userId));
    const pairs: Array<readonly [string, string]> = [];
    for (const r of behind) {
      const member = members.get(r.userId)?.entry.value ?? r.member;
      if (member !== r.member) refreshed.set(r.userId, member);
      for (const c of count(r, member)) pairs.push([r.userId, c]);
    }
    if (pairs.length === 0) return { items, refreshed };
    const exact = await this.reads.exactCounts(pairs);
    for (const [userId, c] of pairs) {
      const n = exact.get(userId)?.get(c);
      const state = states.get(c);
      if (n !== undefined && state !== undefined) items.get(userId)!.set(c, itemJson(userId, state, n));
    }
    return { items, refreshed };
  }
}
