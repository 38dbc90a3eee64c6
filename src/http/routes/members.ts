import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { HttpContext } from '../context.js';
import { userId } from '../plugins/auth.js';
import { sendRawData } from '../reply.js';
import { AUTH_ERRORS, ConversationParams, errors, ok } from '../schemas/common.js';
import { AddMemberBody, MemberParams } from '../schemas/conversations.js';

export function memberRoutes(app: FastifyInstance, ctx: HttpContext): void {

  app.post<{ Params: { id: string }; Body: { userId: string } }>(
    '/api/v1/conversations/:id/members',
    {
      schema: {
        operationId: 'addMember',
        tags: ['members'],
        summary: 'Add a member (group admins)',
        params: ConversationParams,
        body: AddMemberBody,
        response: { 200: ok(Type.Ref('ConversationListItem')), ...errors(...AUTH_ERRORS, 403, 404, 409) },
      },
    },
    async (req, reply) => sendRawData(reply, await ctx.conversations.addMember(userId(req), req.params.id, req.body.userId)),
  );

  app.delete<{ Params: { id: string; userId: string } }>(
    '/api/v1/conversations/:id/members/:userId',
    {
      schema: {
        operationId: 'removeMember',
        tags: ['members'],
        summary: 'Remove a member (admins), or leave (yourself)',
        params: MemberParams,
        response: {
          200: ok(Type.Object({ conversationId: Type.String(), userId: Type.String(), removed: Type.Literal(true) })),
          ...errors(...AUTH_ERRORS, 403, 404),
        },
      },
    },
    async (req) => ({
      success: true,
      data: await ctx.conversations.removeMember(userId(req), req.params.id, req.params.userId),
    }),
  );
}
