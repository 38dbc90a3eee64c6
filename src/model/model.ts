/** The API's resource shapes (see ../shared/api.md). */
export interface UserSummary {
  id: string;
  username: string;
  displayName: string;
  avatar: string | null;
}

export interface User extends UserSummary {
  createdAt: string;
}

export type ConversationType = 'direct' | 'group' | 'public';
export type MemberRole = 'admin' | 'member';

export interface Message {
  id: string;
  conversationId: string;
  senderId: string;
  sender: UserSummary;
  content: string;
  replyToId: string | null;
  createdAt: string;
  editedAt: string | null;
}

/** Query of the conversation list; every field is part of a cached variant's identity. */
export interface ListQuery {
  limit: number;
  offset: number;
  type?: ConversationType | undefined;
  withUserId?: string | undefined;
  /** Decoded `before` cursor. */
  before?: ListCursor | undefined;
}

export interface ListCursor {
  sortAt: string;
  id: string;
}

export interface Pagination {
  offset: number;
  limit: number;
  total: number;
  hasMore: boolean;
  nextCursor: string | null;
}
