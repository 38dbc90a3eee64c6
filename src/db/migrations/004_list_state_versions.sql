-- Versions of the two kinds of cached list state (see src/conversation-list/README.md):
--
-- * conversations.version: bumped by every write that changes what every member of the conversation
--   sees alike (last message, recent live messages, title, avatar, members, member names). Those writes
--   hold the conversation row lock, so versions are taken in commit order.
-- * member_list_versions.version: bumped by every write that changes a user's memberships or read
--   markers. A table of its own, not a column of users: a profile change locks the user's row and then
--   the rows of the user's conversations, while membership writes lock a conversation and then these
--   rows; with both in users the two orders would deadlock.
-- * conversations.deleted_count: how many of its messages were ever deleted. A cached unread count
--   computed before a deletion is recomputed when it differs.
ALTER TABLE conversations ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE conversations ADD COLUMN deleted_count integer NOT NULL DEFAULT 0;

CREATE TABLE member_list_versions (
  user_id bigint PRIMARY KEY REFERENCES users(id),
  version bigint NOT NULL
);

-- The outbox now names the pieces of state to republish, not the users whose lists to drop.
ALTER TABLE cache_invalidations ADD COLUMN conversation_ids bigint[] NOT NULL DEFAULT '{}';
