-- chatgate schema. Ids are bigint identities, exposed as strings by the store.
-- Timestamps are truncated to milliseconds so that a cursor (which carries a JS-precision
-- timestamp) compares exactly with the stored value.

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  display_name  text NOT NULL,
  avatar        text,
  created_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  updated_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);

CREATE TABLE conversations (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type            text NOT NULL CHECK (type IN ('direct', 'group', 'public')),
  title           text,
  avatar          text,
  -- 'smallerId:largerId' for direct conversations: one direct conversation per pair.
  direct_key      text UNIQUE,
  created_by      bigint NOT NULL REFERENCES users(id),
  -- Denormalised, maintained in the transaction of every message write:
  last_message_id bigint,
  last_message_at timestamptz,
  member_count    integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  updated_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);

CREATE TABLE conversation_members (
  conversation_id      bigint NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  user_id              bigint NOT NULL REFERENCES users(id),
  role                 text NOT NULL CHECK (role IN ('admin', 'member')),
  joined_at            timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  left_at              timestamptz,
  -- Messages with id <= this are read. A member who joins starts at the newest message id.
  last_read_message_id bigint NOT NULL DEFAULT 0,
  -- Copy of coalesce(conversations.last_message_at, conversations.created_at): the list's sort key,
  -- kept per member so that a user's page is an index range scan (see list query in src/store).
  sort_at              timestamptz NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
);
-- The conversation list: a user's active memberships, newest activity first.
CREATE INDEX conversation_members_list_idx
  ON conversation_members (user_id, sort_at DESC, conversation_id DESC) WHERE left_at IS NULL;
-- Member previews (oldest first) and member lookups per conversation.
CREATE INDEX conversation_members_preview_idx
  ON conversation_members (conversation_id, joined_at, user_id) WHERE left_at IS NULL;

CREATE TABLE messages (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id bigint NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  sender_id       bigint NOT NULL REFERENCES users(id),
  content         text NOT NULL,
  reply_to_id     bigint REFERENCES messages(id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
  edited_at       timestamptz,
  deleted_at      timestamptz
);
-- History pages, last message, and unread counts: all are ranges of one conversation's live messages.
-- sender_id is included so that the unread count is an index-only scan.
CREATE INDEX messages_live_idx
  ON messages (conversation_id, id DESC) INCLUDE (sender_id) WHERE deleted_at IS NULL;

-- Outbox of cache invalidations: written in the same transaction as the change it describes,
-- deleted once the invalidation has taken effect. Rows left behind by a crashed process are replayed.
CREATE TABLE cache_invalidations (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_ids   bigint[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
