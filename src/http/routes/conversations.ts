import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { decodeCursor } from '../../conversation-list/cursor.js';
import type { ConversationType, ListQuery } from '../../model/model.js';
import { unavailable, validation } from '../../errors.js';
import type { HttpContext } from '../context.js';
import { userId } from '../plugins/auth.js';
import { sendListPage, sendRawData } from '../reply.js';
import { AUTH_ERRORS, ConversationParams, errors, ok } from '../schemas/common.js';
import {
  ChangesQuerystring,
  ChangesResponse,
  CreateConversationBody,
  ListQuerystring,
  ListResponse,
  ReadBody,
  UpdateConversationBody,
} from '../schemas/conversations.js';

interface ListQs {
  limit: number;
  offset: number;
  type?: ConversationType;
  withUserId?: string;
  before?: string;
}

export function toListQuery(qs: ListQs): ListQuery {
  if (qs.before !== undefined && qs.offset > 0) throw validation('before cannot be combined with offset > 0');
  return {
    limit: qs.limit,
    offset: qs.offset,
    type: qs.type,
    withUserId: qs.withUserId,
    before: qs.before === undefined ? undefined : decodeCursor(qs.before),
  };
}

const Item = ok(Type.Ref('ConversationListItem'));

export function conversationRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const list = ctx.conversationList;

  app.get<{ Querystring: ListQs }>(
    '/api/v1/conversations',
    {
      schema: {
        operationId: 'listConversations',
        tags: ['conversations'],
        summary: 'The caller’s conversations, newest activity first',
        description:
          'Headers: `ETag`, `Cache-Control: private, no-cache`, `X-Cache: HIT-L1|HIT-L2|MISS|BYPASS`. ' +
          '`If-None-Match` with the current ETag gives 304. Fresh after every acknowledged write.',
        querystring: ListQuerystring,
        response: { 200: ListResponse, 304: Type.Null(), ...errors(...AUTH_ERRORS) },
      },
    },
    // Not async: a hit from process memory is answered without allocating a promise. Nor is the reply
    // returned after it is sent: a FastifyReply is a thenable, and Fastify would wait on it (an
    // end-of-stream listener set per request, ~2.6% of the hit path's CPU in a V8 profile).
    (req, reply) => {
      const uid = userId(req);
      const q = toListQuery(req.query);
      const hit = list.peek?.(uid, q);
      if (hit) {
        sendListPage(reply, hit, req.headers['if-none-match'], req.headers['accept-encoding']);
        return;
      }
      return list.page(uid, q).then((page) => sendListPage(reply, page, req.headers['if-none-match'], req.headers['accept-encoding']));
    },
  );

  app.get<{ Querystring: { since?: string; limit?: number } }>(
    '/api/v1/conversations/changes',
    {
      schema: {
        operationId: 'listConversationChanges',
        tags: ['conversations', 'live updates'],
        summary: 'What changed in the caller’s list after a position (resume after a disconnect)',
        description:
          'Items changed after `since`, as the list shows them now, and ids of conversations that left the list, ' +
          'in order, paged by `limit`. A position that is too old, from before a cache clear, or unknown: ' +
          '410 RESYNC_REQUIRED, reload the list. Without `since`: the current position and no changes.',
        querystring: ChangesQuerystring,
        response: { 200: ChangesResponse, ...errors(...AUTH_ERRORS, 410, 503) },
      },
    },
    async (req, reply) => {
      if (ctx.push === undefined) throw unavailable('live updates need the cache (CACHE_ENABLED or REDIS_URL)');
      const c = await ctx.push.changes(userId(req), req.query.since, req.query.limit ?? 100);
      return sendRawData(
        reply,
        `{"changed":[${c.changed.join(',')}],"removed":${JSON.stringify(c.removed)},"position":${JSON.stringify(c.position)},"hasMore":${c.hasMore}}`,
      );
    },
  );

  app.post<{ Body: { type: ConversationType; title?: string; memberIds: string[] } }>(
    '/api/v1/conversations',
    {
      schema: {
        operationId: 'createConversation',
        tags: ['conversations'],
        summary: 'Create a direct, group or public conversation (an existing direct one: 200)',
        body: CreateConversationBody,
        response: { 200: Item, 201: Item, ...errors(...AUTH_ERRORS, 413) },
      },
    },
    async (req, reply) => {
      const { item, created } = await ctx.conversations.create(userId(req), req.body);
      return sendRawData(reply, item, created ? 201 : 200);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/conversations/:id',
    {
      schema: { operationId: 'getConversation', tags: ['conversations'], summary: 'One conversation', params: ConversationParams, response: { 200: Item, ...errors(...AUTH_ERRORS, 404) } },
    },
    async (req, reply) => sendRawData(reply, await ctx.conversations.get(userId(req), req.params.id)),
  );

  app.patch<{ Params: { id: string }; Body: { title?: string; avatar?: string | null } }>(
    '/api/v1/conversations/:id',
    {
      schema: {
        operationId: 'updateConversation',
        tags: ['conversations'],
        summary: 'Rename or change the avatar (group/public admins)',
        params: ConversationParams,
        body: UpdateConversationBody,
        response: { 200: Item, ...errors(...AUTH_ERRORS, 403, 404) },
      },
    },
    async (req, reply) => sendRawData(reply, await ctx.conversations.update(userId(req), req.params.id, req.body)),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/conversations/:id',
    {
      schema: {
        operationId: 'deleteConversation',
        tags: ['conversations'],
        summary: 'Delete the conversation (admins)',
        params: ConversationParams,
        response: { 200: ok(Type.Object({ id: Type.String(), deleted: Type.Literal(true) })), ...errors(...AUTH_ERRORS, 403, 404) },
      },
    },
    async (req) => ({ success: true, data: await ctx.conversations.remove(userId(req), req.params.id) }),
  );

  app.post<{ Params: { id: string } }>(
    '/api/v1/conversations/:id/join',
    {
      schema: { operationId: 'joinConversation', tags: ['members'], summary: 'Join a public conversation', params: ConversationParams, response: { 200: Item, ...errors(...AUTH_ERRORS, 404, 409) } },
    },
    async (req, reply) => sendRawData(reply, await ctx.conversations.join(userId(req), req.params.id)),
  );

  app.post<{ Params: { id: string }; Body: { messageId?: string } | undefined }>(
    '/api/v1/conversations/:id/read',
    {
      schema: {
        operationId: 'markConversationRead',
        tags: ['conversations'],
        summary: 'Mark as read up to a message (default: the newest)',
        params: ConversationParams,
        body: Type.Optional(ReadBody),
        response: { 200: Item, ...errors(...AUTH_ERRORS, 404) },
      },
      // The body is optional: a POST without one (the usual "mark all read") is `{}`, not a 400.
      preValidation: (req, _reply, done) => {
        if (req.body === undefined) req.body = {};
        done();
      },
    },
    async (req, reply) =>
      sendRawData(reply, await ctx.conversations.markRead(userId(req), req.params.id, req.body?.messageId)),
  );
}
