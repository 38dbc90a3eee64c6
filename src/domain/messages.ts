import type { Db } from '../db/index.js';
import { forbidden, notFound, validation } from '../errors.js';
import * as conv from '../store/conversations.js';
import { bumpMemberLists } from '../store/list-state.js';
import * as messages from '../store/messages.js';
import { LIMITS } from '../model/limits.js';
import type { Message } from '../model/model.js';
import type { Writer } from './writer.js';

/** Content is trimmed; 1–4000 characters (code points) remain. */
function cleanContent(content: string): string {
  const trimmed = content.trim();
  const length = [...trimmed].length;
  if (length === 0) throw validation('content must not be empty');
  if (length > LIMITS.messageMax) throw validation(`content must be at most ${LIMITS.messageMax} characters`);
  return trimmed;
}

export class MessageService {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
  ) {}

  async history(userId: string, conversationId: string, limit: number, before: string | undefined) {
    if (!(await conv.findMembership(this.db, conversationId, userId))) throw notFound('conversation');
    const page = await messages.messageHistory(this.db, conversationId, limit, before);
    const last = page.messages[page.messages.length - 1];
    return {
      messages: page.messages,
      pagination: { limit, hasMore: page.hasMore, nextCursor: page.hasMore && last ? last.id : null },
    };
  }

  async post(userId: string, conversationId: string, input: { content: string; replyToId?: string | undefined }): Promise<Message> {
    const content = cleanContent(input.content);
    return this.writer.write(async (tx) => {
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      let rejoined: string[] = [];
      if (m.type === 'direct' && m.memberCount < 2) {
        // The other side had left (hidden) the direct conversation: a new message brings it back to
        // their list, with this message unread.
        rejoined = await conv.addMembers(tx, conversationId, (await conv.allMemberIds(tx, conversationId)).map((id) => ({ userId: id, role: 'member' as const })));
        await bumpMemberLists(tx, rejoined);
      }
      // A statement of its own, after the lock: it sees every membership change committed before
      // (one in the lock's own statement would be judged on the snapshot from before the lock wait),
      // and the lock keeps the set as it is until commit.
      const affected = await conv.activeMemberIds(tx, conversationId);
      if (input.replyToId !== undefined && !(await messages.findLiveMessage(tx, conversationId, input.replyToId))) {
        throw validation('replyToId is not a message of this conversation');
      }
      const message = await messages.insertMessage(tx, {
        conversationId,
        senderId: userId,
        content,
        replyToId: input.replyToId ?? null,
      });
      return {
        result: message,
        event: {
          kind: 'message.created',
          actorId: userId,
          conversationId,
          affectedUserIds: affected,
          changed: { conversations: [conversationId], memberLists: rejoined },
          message,
        },
      };
    });
  }

  async edit(userId: string, conversationId: string, messageId: string, input: { content: string }): Promise<Message> {
    const content = cleanContent(input.content);
    return this.writer.write(async (tx) => {
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      const found = await messages.findLiveMessage(tx, conversationId, messageId);
      if (!found) throw notFound('message');
      if (found.senderId !== userId) throw forbidden('only the author can edit a message');
      const message = await messages.updateMessageContent(tx, conversationId, messageId, content);
      // Only the last message shows in lists: editing an older one changes nobody's list (but the
      // message itself still goes to the conversation's connected members).
      const last = m.lastMessageId === messageId;
      return {
        result: message,
        event: {
          kind: 'message.edited',
          actorId: userId,
          conversationId,
          affectedUserIds: await conv.activeMemberIds(tx, conversationId),
          changed: { conversations: last ? [conversationId] : [], memberLists: [] },
          message,
        },
      };
    });
  }

  async remove(userId: string, conversationId: string, messageId: string): Promise<{ messageId: string; deleted: true }> {
    return this.writer.write(async (tx) => {
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      const found = await messages.findLiveMessage(tx, conversationId, messageId);
      if (!found) throw notFound('message');
      if (found.senderId !== userId && m.role !== 'admin') {
        throw forbidden('only the author or an admin can delete a message');
      }
      await messages.softDeleteMessage(tx, conversationId, messageId);
      // Every member: the last message may change, and unread counts drop for those who had not read it.
      const affected = await conv.activeMemberIds(tx, conversationId);
      return {
        result: { messageId, deleted: true as const },
        event: {
          kind: 'message.deleted',
          actorId: userId,
          conversationId,
          affectedUserIds: affected,
          changed: { conversations: [conversationId], memberLists: [] },
          messageId,
        },
      };
    });
  }
}
