import { Type } from 'typebox';
import { LIMITS } from '../../model/limits.js';
import { Avatar, Id, Timestamp } from './common.js';

const ConversationType = Type.Union([Type.Literal('direct'), Type.Literal('group'), Type.Literal('public')]);
const Title = Type.String({ minLength: 1, maxLength: LIMITS.titleMax });

export const ConversationListItem = Type.Object(
  {
    id: Id,
    type: ConversationType,
    title: Type.Union([Type.String(), Type.Null()]),
    avatar: Type.Union([Type.String(), Type.Null()]),
    memberCount: Type.Integer(),
    members: Type.Array(
      Type.Object({
        userId: Id,
        role: Type.Union([Type.Literal('admin'), Type.Literal('member')]),
        joinedAt: Timestamp,
        user: Type.Ref('UserSummary'),
      }),
      { maxItems: 5, description: 'At most 5, oldest first' },
    ),
    lastMessage: Type.Union([
      Type.Object({
        id: Id,
        content: Type.String(),
        senderId: Id,
        sender: Type.Ref('UserSummary'),
        createdAt: Timestamp,
        editedAt: Type.Union([Timestamp, Type.Null()]),
      }),
      Type.Null(),
    ]),
    lastMessageAt: Type.Union([Timestamp, Type.Null()]),
    unreadCount: Type.Integer(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'ConversationListItem' },
);

export const CreateConversationBody = Type.Object(
  {
    type: ConversationType,
    title: Type.Optional(Title),
    memberIds: Type.Array(Id, { maxItems: LIMITS.groupOtherMembersMax + 1 }),
  },
  { additionalProperties: false },
);

export const ListQuerystring = Type.Object(
  {
    // Optional with a default: the validator fills it in, and the document does not ask clients for it.
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.listLimitMax, default: LIMITS.listLimitDefault })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
    type: Type.Optional(ConversationType),
    withUserId: Type.Optional(Id),
    before: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of a previous page' })),
  },
  { additionalProperties: false },
);

export const ListResponse = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(Type.Ref('ConversationListItem')),
  pagination: Type.Object({
    offset: Type.Integer(),
    limit: Type.Integer(),
    total: Type.Integer(),
    hasMore: Type.Boolean(),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const UpdateConversationBody = Type.Object(
  { title: Type.Optional(Title), avatar: Type.Optional(Avatar) },
  { additionalProperties: false, minProperties: 1 },
);
export const AddMemberBody = Type.Object({ userId: Id }, { additionalProperties: false });
export const MemberParams = Type.Object({ id: Id, userId: Id }, { additionalProperties: false });
export const ReadBody = Type.Object({ messageId: Type.Optional(Id) }, { additionalProperties: false });

export const ChangesQuerystring = Type.Object(
  {
    since: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'A position from the stream or a previous changes answer; omitted: the current position' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Changed and removed conversations per page, at most (a single write that changed more is returned whole)' })),
  },
  { additionalProperties: false },
);

export const ChangesResponse = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    changed: Type.Array(Type.Ref('ConversationListItem'), { description: 'Conversations of the list that changed, as the list shows them now' }),
    removed: Type.Array(Type.String(), { description: 'Ids of conversations that left the list' }),
    position: Type.String({ description: 'Where the next call (or a resumed stream) starts' }),
    hasMore: Type.Boolean({ description: 'More changes after `position`: call again with it' }),
  }),
});
