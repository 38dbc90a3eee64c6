import type { Db, Queryable } from '../db/index.js';
import { conflict, forbidden, notFound, validation } from '../errors.js';
import * as conv from '../store/conversations.js';
import { queryConversationItem } from '../store/conversation-list.js';
import { bumpMemberLists } from '../store/list-state.js';
import { messageInConversation } from '../store/messages.js';
import { lockUsersForMembership } from '../store/users.js';
import type { WriteKind } from './events.js';
import { LIMITS } from '../model/limits.js';
import type { ConversationType } from '../model/model.js';
import type { Writer } from './writer.js';

/** A conversation as its viewer sees it: the `ConversationListItem` JSON, built by the store. */
export type ItemJson = string;

export interface CreateInput {
  type: ConversationType;
  title?: string | undefined;
  memberIds: string[];
}

export class ConversationService {
  constructor(
    private readonly db: Db,
    private readonly writer: Writer,
  ) {}

  async get(userId: string, conversationId: string): Promise<ItemJson> {
    const item = await queryConversationItem(this.db, userId, conversationId);
    if (!item) throw notFound('conversation');
    return item;
  }

  /** `created` is false when an existing direct conversation is returned. */
  async create(userId: string, input: CreateInput): Promise<{ item: ItemJson; created: boolean }> {
    const others = [...new Set(input.memberIds)].filter((id) => id !== userId);
    if (input.type === 'direct') {
      if (input.title !== undefined) throw validation('a direct conversation has no title');
      if (input.memberIds.length !== 1 || others.length !== 1) {
        throw validation('a direct conversation has exactly one other member');
      }
    } else {
      if (input.title === undefined || input.title.trim().length === 0) throw validation('title is required');
      if (input.type === 'group' && others.length < 1) throw validation('a group needs at least one other member');
      if (others.length > LIMITS.groupOtherMembersMax) {
        throw validation(`at most ${LIMITS.groupOtherMembersMax} other members`);
      }
    }
    return this.writer.write(async (tx) => {
      const missing = await lockUsersForMembership(tx, [userId, ...others]);
      if (missing.length > 0) throw validation(`unknown user id: ${missing.slice(0, 5).join(', ')}`);
      if (input.type === 'direct') return this.createDirect(tx, userId, others[0]!);
      const id = (await conv.insertConversation(tx, {
        type: input.type,
        title: input.title!.trim(),
        directKey: null,
        createdBy: userId,
      }))!;
      await conv.addMembers(tx, id, [
        { userId, role: 'admin' },
        ...others.map((o) => ({ userId: o, role: 'member' as const })),
      ]);
      const members = [userId, ...others];
      await bumpMemberLists(tx, members);
      const item = (await queryConversationItem(tx, userId, id))!;
      return {
        result: { item, created: true },
        event: {
          kind: 'conversation.created',
          actorId: userId,
          conversationId: id,
          affectedUserIds: members,
          changed: { conversations: [id], memberLists: members },
        },
      };
    });
  }

  private async createDirect(tx: Queryable, userId: string, other: string) {
    const key = conv.directKey(userId, other);
    let id = await conv.findDirectConversation(tx, key);
    let created = false;
    if (!id) {
      id = await conv.insertConversation(tx, { type: 'direct', title: null, directKey: key, createdBy: userId });
      // Lost a race with the other member creating the same pair: theirs is ours.
      if (!id) id = (await conv.findDirectConversation(tx, key))!;
      else created = true;
    }
    // Creating it again reopens it for the caller if they had left it. The other member, if they had
    // left, comes back only when a message is posted (see MessageService.post), as in common chat apps:
    // opening a chat is not yet writing to them.
    const added = await conv.addMembers(
      tx,
      id,
      created
        ? [
            { userId, role: 'member' },
            { userId: other, role: 'member' },
          ]
        : [{ userId, role: 'member' }],
    );
    await bumpMemberLists(tx, added);
    const item = (await queryConversationItem(tx, userId, id))!;
    const kind: WriteKind = created ? 'conversation.created' : 'member.joined';
    const affected = created ? [userId, other] : added.length > 0 ? await conv.activeMemberIds(tx, id) : [];
    return {
      result: { item, created },
      event:
        affected.length > 0
          ? { kind, actorId: userId, conversationId: id, affectedUserIds: affected, changed: { conversations: [id], memberLists: added } }
          : null,
    };
  }

  async update(userId: string, conversationId: string, patch: { title?: string | undefined; avatar?: string | null | undefined }): Promise<ItemJson> {
    return this.writer.write(async (tx) => {
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      if (m.type === 'direct') throw forbidden('a direct conversation cannot be edited');
      if (m.role !== 'admin') throw forbidden('only an admin can edit the conversation');
      if (patch.title !== undefined && patch.title.trim().length === 0) throw validation('title must not be blank');
      await conv.updateConversation(tx, conversationId, { ...patch, title: patch.title?.trim() });
      const affected = await conv.activeMemberIds(tx, conversationId);
      const item = (await queryConversationItem(tx, userId, conversationId))!;
      return {
        result: item,
        event: {
          kind: 'conversation.updated',
          actorId: userId,
          conversationId,
          affectedUserIds: affected,
          changed: { conversations: [conversationId], memberLists: [] },
        },
      };
    });
  }

  async remove(userId: string, conversationId: string): Promise<{ id: string; deleted: true }> {
    return this.writer.write(async (tx) => {
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      if (m.role !== 'admin') throw forbidden('only an admin can delete the conversation');
      const affected = await conv.activeMemberIds(tx, conversationId);
      await conv.deleteConversation(tx, conversationId);
      await bumpMemberLists(tx, affected);
      return {
        result: { id: conversationId, deleted: true as const },
        event: {
          kind: 'conversation.deleted',
          actorId: userId,
          conversationId,
          affectedUserIds: affected,
          // The conversation's own state is gone: its cached piece becomes a tombstone.
          changed: { conversations: [conversationId], memberLists: affected },
          removedUserIds: affected,
        },
      };
    });
  }

  async addMember(userId: string, conversationId: string, newMemberId: string): Promise<ItemJson> {
    return this.writer.write(async (tx) => {
      // Before the conversation's lock (lock order: users, then conversations).
      const unknown = (await lockUsersForMembership(tx, [newMemberId])).length > 0;
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      if (m.type === 'direct') throw forbidden('a direct conversation has exactly two members');
      if (m.role !== 'admin') throw forbidden('only an admin can add members');
      if (unknown) throw validation(`unknown user id: ${newMemberId}`);
      const before = await conv.activeMemberIds(tx, conversationId);
      if (before.includes(newMemberId)) throw conflict('already a member');
      if (before.length >= LIMITS.conversationMembersMax) {
        throw validation(`a conversation has at most ${LIMITS.conversationMembersMax} members`);
      }
      await conv.addMembers(tx, conversationId, [{ userId: newMemberId, role: 'member' }]);
      await bumpMemberLists(tx, [newMemberId]);
      const item = (await queryConversationItem(tx, userId, conversationId))!;
      return {
        result: item,
        event: {
          kind: 'member.added',
          actorId: userId,
          conversationId,
          affectedUserIds: [...before, newMemberId],
          changed: { conversations: [conversationId], memberLists: [newMemberId] },
        },
      };
    });
  }

  /** An admin removes a member, or anyone removes themself (leaves). */
  async removeMember(userId: string, conversationId: string, memberId: string): Promise<{ conversationId: string; userId: string; removed: true }> {
    return this.writer.write(async (tx) => {
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      const leaving = memberId === userId;
      if (!leaving) {
        if (m.type === 'direct') throw forbidden('a member of a direct conversation can only leave');
        if (m.role !== 'admin') throw forbidden('only an admin can remove members');
      }
      const before = await conv.activeMemberIds(tx, conversationId);
      if (!before.includes(memberId)) throw notFound('member');
      await conv.removeMember(tx, conversationId, memberId);
      if (m.type !== 'direct') await conv.ensureAdmin(tx, conversationId);
      await bumpMemberLists(tx, [memberId]);
      return {
        result: { conversationId, userId: memberId, removed: true as const },
        // The one who left is affected too: the conversation leaves their list.
        event: {
          kind: leaving ? 'member.left' : 'member.removed',
          actorId: userId,
          conversationId,
          affectedUserIds: before,
          changed: { conversations: [conversationId], memberLists: [memberId] },
          removedUserIds: [memberId],
        },
      };
    });
  }

  async join(userId: string, conversationId: string): Promise<ItemJson> {
    return this.writer.write(async (tx) => {
      await lockUsersForMembership(tx, [userId]);
      const c = await conv.lockConversation(tx, conversationId);
      // Not public, or not there at all: the same 404, so that ids of private conversations do not leak.
      if (!c || c.type !== 'public') throw notFound('conversation');
      const before = await conv.activeMemberIds(tx, conversationId);
      if (before.includes(userId)) throw conflict('already a member');
      if (before.length >= LIMITS.conversationMembersMax) {
        throw validation(`a conversation has at most ${LIMITS.conversationMembersMax} members`);
      }
      await conv.addMembers(tx, conversationId, [{ userId, role: 'member' }]);
      await bumpMemberLists(tx, [userId]);
      const item = (await queryConversationItem(tx, userId, conversationId))!;
      return {
        result: item,
        event: {
          kind: 'member.joined',
          actorId: userId,
          conversationId,
          affectedUserIds: [...before, userId],
          changed: { conversations: [conversationId], memberLists: [userId] },
        },
      };
    });
  }

  /** Moves the caller's read marker; their unread count drops. Only their own list changes. */
  async markRead(userId: string, conversationId: string, messageId: string | undefined): Promise<ItemJson> {
    return this.writer.write(async (tx) => {
      // Locked, as a message is: a marker waiting on a leave must see the leave, not the snapshot from before it.
      const m = await conv.lockMembership(tx, conversationId, userId);
      if (!m) throw notFound('conversation');
      if (messageId !== undefined) {
        if (!(await messageInConversation(tx, conversationId, messageId))) throw notFound('message');
      }
      await conv.markRead(tx, conversationId, userId, messageId);
      await bumpMemberLists(tx, [userId]);
      const item = (await queryConversationItem(tx, userId, conversationId))!;
      return {
        result: item,
        event: {
          kind: 'conversation.read',
          actorId: userId,
          conversationId,
          affectedUserIds: [userId],
          changed: { conversations: [], memberLists: [userId] },
        },
      };
    });
  }
}
