import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { HttpContext } from '../context.js';
import { userId } from '../plugins/auth.js';
import { AUTH_ERRORS, ConversationParams, errors, ok } from '../schemas/common.js';
import { EditMessageBody, HistoryQuerystring, HistoryResponse, MessageParams, PostMessageBody } from '../schemas/messages.js';

export function messageRoutes(app: FastifyInstance, ctx: HttpContext): void {

  app.get<{ Params: { id: string }; Querystring: { limit: number; before?: string } }>(
    '/api/v1/conversations/:id/messages',
    {
      schema: {
        operationId: 'listMessages',
        tags: ['messages'],
        summary: 'History, newest first; `before` is the `nextCursor` of the previous page',
        params: ConversationParams,
        querystring: HistoryQuerystring,
        response: { 200: HistoryResponse, ...errors(...AUTH_ERRORS, 404) },
      },
    },
    async (req) => {
      const page = await ctx.messages.history(userId(req), req.params.id, req.query.limit, req.query.before);
      return { success: true, data: page.messages, pagination: page.pagination };
    },
  );

  app.post<{ Params: { id: string }; Body: { content: string; replyToId?: string } }>(
    '/api/v1/conversations/:id/messages',
    {
      schema: {
        operationId: 'postMessage',
        tags: ['messages'],
        summary: 'Send a message (content: 1–4000 characters after trimming)',
        params: ConversationParams,
        body: PostMessageBody,
        response: { 201: ok(Type.Ref('Message')), ...errors(...AUTH_ERRORS, 404, 413) },
      },
    },
    async (req, reply) => {
      const message = await ctx.messages.post(userId(req), req.params.id, req.body);
      void reply.status(201);
      return { success: true, data: message };
    },
  );

  app.patch<{ Params: { id: string; messageId: string }; Body: { content: string } }>(
    '/api/v1/conversations/:id/messages/:messageId',
    {
      schema: {
        operationId: 'editMessage',
        tags: ['messages'],
        summary: 'Edit a message (author only)',
        params: MessageParams,
        body: EditMessageBody,
        response: { 200: ok(Type.Ref('Message')), ...errors(...AUTH_ERRORS, 403, 404, 413) },
      },
    },
    async (req) => ({
      success: true,
      data: await ctx.messages.edit(userId(req), req.params.id, req.params.messageId, req.body),
    }),
  );

  app.delete<{ Params: { id: string; messageId: string } }>(
    '/api/v1/conversations/:id/messages/:messageId',
    {
      schema: {
        operationId: 'deleteMessage',
        tags: ['messages'],
        summary: 'Delete a message (author or conversation admin)',
        params: MessageParams,
        response: {
          200: ok(Type.Object({ messageId: Type.String(), deleted: Type.Literal(true) })),
          ...errors(...AUTH_ERRORS, 403, 404),
        },
      },
    },
    async (req) => ({ success: true, data: await ctx.messages.remove(userId(req), req.params.id, req.params.messageId) }),
  );
}
