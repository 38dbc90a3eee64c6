import type { ListQuery } from '../domain/model.js';

/**
 * Cache addressing. One group per user: invalidating it drops every variant of that user's list at
 * once (no key scan). One field per query variant: every parameter that changes the answer is in it
 * (the seed's key ignored `limit` and served a 20-item page to a client that asked for 50).
 */
export function userGroup(userId: string): string {
  return `u:${userId}`;
}

export function variantField(q: ListQuery): string {
  return `l${q.limit}o${q.offset}t${q.type ?? ''}w${q.withUserId ?? ''}b${q.before ? `${q.before.sortAt}/${q.before.id}` : ''}`;
}
