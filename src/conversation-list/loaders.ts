import type { BatchLoader, Loaded } from '../cache/engine/index.js';
import type { Queryable } from '../db/index.js';
import { loadConversationStates, loadMemberStates } from '../store/list-state.js';
import { RECENT_MESSAGES, conversationFromRow, memberFromRow, type ConversationState, type MemberState } from './state.js';

/** Where the cached list's pieces come from on a miss: PostgreSQL (the seam tests wrap to time a load). */
export interface StateLoaders {
  members: BatchLoader<MemberState>;
  conversations: BatchLoader<ConversationState>;
}

export function sqlStateLoaders(db: Queryable): StateLoaders {
  return {
    members: async (ids) => new Map((await loadMemberStates(db, ids)).map((r) => [r.userId, toLoaded(memberFromRow(r))])),
    conversations: async (ids) =>
      new Map((await loadConversationStates(db, ids, RECENT_MESSAGES)).map((r) => [r.id, toLoaded(conversationFromRow(r))])),
  };
}

function toLoaded<T>(x: { version: number; state: T }): Loaded<T> {
  return { version: x.version, value: x.state };
}
