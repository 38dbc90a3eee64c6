import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { validation } from '../../errors.js';
import { serveStream, startHeartbeat } from '../../push/connection.js';
import { CLOSE } from '../../push/protocol.js';
import type { HttpContext } from '../context.js';
import { errors, PUBLIC_ERRORS } from '../schemas/common.js';

/** Incoming frames: only the auth frame is ever sent by a client. */
const MAX_FRAME_BYTES = 4096;

/**
 * GET /api/v1/stream: live updates of the caller's conversation list (src/push/protocol.ts). Public in
 * the router's sense: the upgrade request may carry no header (browsers cannot set one), so the token
 * comes from the header, the `token` query parameter or the first frame, and a bad one closes the
 * socket with 4401.
 */
export async function streamRoutes(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const push = ctx.push;
  await app.register(websocket, {
    options: { maxPayload: MAX_FRAME_BYTES },
    // On close, every socket (authenticated or not) gets 1001, going away: its client reconnects, to
    // another instance, and resumes. The plugin's own preClose would close them without a code (1005).
    preClose(done) {
      for (const socket of app.websocketServer.clients) socket.close(CLOSE.GOING_AWAY, 'server shutting down');
      app.websocketServer.close();
      done();
    },
  });
  if (push === undefined) return;
  const stopHeartbeat = startHeartbeat(() => app.websocketServer.clients, ctx.config.stream.pingMs);
  app.addHook('onClose', async () => stopHeartbeat());
  app.route<{ Querystring: { token?: string } }>({
    method: 'GET',
    url: '/api/v1/stream',
    schema: {
      operationId: 'openStream',
      tags: ['live updates'],
      summary: 'WebSocket: live changes of the caller’s conversation list (see the README, "Live updates")',
      description:
        'Upgrade to a WebSocket. Authenticate with `Authorization: Bearer`, the `token` query parameter, or a first ' +
        'frame `{"type":"auth","token":"..."}` within the auth timeout. Close codes: 4401 bad or expired token, ' +
        '4408 no auth frame in time, 4429 too many connections, 4413 slow consumer, 1007 a frame that is not JSON, ' +
        '1008 a frame the protocol does not allow, 1009 a frame over 4 KiB, 1001 shutting down. ' +
        'A plain GET (no upgrade) is a 400.',
      security: [{ bearer: [] }, { tokenQuery: [] }, {}],
      querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096 })) }),
      response: { 400: Type.Ref('ErrorBody'), ...errors(...PUBLIC_ERRORS) },
    },
    handler: async () => {
      throw validation('this route is a WebSocket: send an upgrade request');
    },
    wsHandler: (socket, req) => {
      const header = req.headers.authorization;
      const token = header?.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : req.query.token;
      serveStream(
        socket,
        token,
        {
          tokens: ctx.tokens,
          hub: push.hub,
          follow: (userId) => push.follow(userId),
          onError: (err) => req.log.debug({ err: String(err) }, '[PUSH] stream error'),
        },
        ctx.config.stream,
      );
    },
  });
}
