-- Memberships a user has left: a profile change still shows in those conversations (a direct
-- conversation's title, a last message the user sent), so its invalidation reaches their members.
-- Partial: left memberships are few next to active ones, and the active ones have the list index.
CREATE INDEX conversation_members_left_idx
  ON conversation_members (user_id, conversation_id) WHERE left_at IS NOT NULL;
