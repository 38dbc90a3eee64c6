import { Type } from 'typebox';
import { LIMITS } from '../../model/limits.js';
import { Id, Timestamp } from './common.js';

export const Message = Type.Object(
  {
    id: Id,
    conversationId: Id,
    senderId: Id,
    sender: Type.Ref('UserSummary'),
    content: Type.String(),
    replyToId: Type.Union([Id, Type.Null()]),
    createdAt: Timestamp,
    editedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { $id: 'Message' },
);

// The length rule (1–4000 after trimming) is checked by the domain; this bound only stops silly input early.
const Content = Type.String({ minLength: 1, maxLength: LIMITS.messageMax * 2 });

export const PostMessageBody = Type.Object({ content: Content, replyToId: Type.Optional(Id) }, { additionalProperties: false });
export const EditMessageBody = Type.Object({ content: Content }, { additionalProperties: false });
export const MessageParams = Type.Object({ id: Id, messageId: Id }, { additionalProperties: false });
export const HistoryQuerystring = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.historyLimitMax, default: LIMITS.historyLimitDefault })),
    before: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export const HistoryResponse = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(Type.Ref('Message')),
  pagination: Type.Object({ limit: Type.Integer(), hasMore: Type.Boolean(), nextCursor: Type.Union([Id, Type.Null()]) }),
});
