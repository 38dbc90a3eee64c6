import type { ConversationState, Membership } from './state.js';

/**
 * A member's unread count (the contract: live messages, not their own, after their read marker),
 * from the conversation's newest live messages and the member's starting point:
 *
 *   unread = n + #{ m in recent : m.id > max(b, r), m.sender != viewer }
 *
 * where the member state, read at some moment, says: the conversation's last live message was b and
 * the member had n unread messages up to it (so nothing above b was live then). Exact when
 *   - no message was deleted since (the deletion counts agree): a deletion below b would change n;
 *   - every live message above b is in `recent` (the window holds all of the conversation's live
 *     messages, or reaches down to b or below).
 * Otherwise undefined: the caller reads the member's state again (a new n and b) or counts in SQL.
 * A message is O(1) per conversation: it changes `recent`, never a member's state.
 */
export function unreadCount(viewer: number, m: Membership, c: ConversationState): number | undefined {
  if (c.deletions !== m.d) return undefined;
  const recent = c.recent;
  const covered = c.complete || (recent.length > 0 && recent[recent.length - 2]! <= m.b);
  if (!covered) return undefined;
  const floor = m.b > m.r ? m.b : m.r;
  let n = m.n;
  for (let i = 0; i < recent.length; i += 2) {
    if (recent[i]! <= floor) break;
    if (recent[i + 1] !== viewer) n++;
  }
  return n;
}
