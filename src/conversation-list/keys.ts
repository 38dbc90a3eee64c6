import type { ListQuery } from '../model/model.js';
import { CONVERSATION, MEMBER } from './state.js';

/**
 * Cache addressing. Pieces are `kind:id` (the engine's naming): a conversation's state, a member's
 * state. A composed page is cached per user and query variant, where every parameter that changes the
 * answer is in the variant (the seed's key ignored `limit` and served a 20-item page to a client that
 * asked for 50).
 */
export function conversationPiece(conversationId: string): string {
  return `${CONVERSATION}:${conversationId}`;
}

export function memberPiece(userId: string): string {
  return `${MEMBER}:${userId}`;
}

export function variantField(q: ListQuery): string {
  return `l${q.limit}o${q.offset}t${q.type ?? ''}w${q.withUserId ?? ''}b${q.before ? `${q.before.sortAt}/${q.before.id}` : ''}`;
}
