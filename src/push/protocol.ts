/**
 * The stream's wire protocol (GET /api/v1/stream, a WebSocket; README "Live updates"). Frames are
 * JSON text. Server to client:
 *   {"type":"ready","position":P}                      after authentication: where the stream starts
 *   {"type":"conversation","position":P,"item":{...}}   a conversation of the list, as the list shows it now
 *   {"type":"removed","position":P,"conversationId":C}  a conversation left the list
 *   {"type":"message","position":P,"event":"created"|"edited"|"deleted","conversationId":C,
 *    "messageId":M,"message":{...}|null}                 a message of a conversation of the list
 *   {"type":"resync","reason":R}                        events may have been missed: reload the list
 * Client to server, only before it is authenticated (no header, no `token` query parameter):
 *   {"type":"auth","token":T}
 * Positions are opaque; `GET /api/v1/conversations/changes?since=P` returns what changed after P.
 */
export const CLOSE = {
  /** The token is missing, invalid, or has expired (also mid-connection, at its expiry). */
  UNAUTHORIZED: 4401,
  /** No auth frame within the time allowed. */
  AUTH_TIMEOUT: 4408,
  /** The user has as many connections as allowed. */
  TOO_MANY_CONNECTIONS: 4429,
  /** The client reads too slowly: its outbound buffer passed the cap. Reconnect and resume. */
  SLOW_CONSUMER: 4413,
  /** A frame that is not JSON text. */
  INVALID_FRAME: 1007,
  /** A frame the protocol does not allow (an unknown type, an auth frame after authentication, binary). */
  POLICY: 1008,
  /** A frame larger than the limit (sent by the WebSocket layer itself). */
  TOO_BIG: 1009,
  /** The instance is shutting down. */
  GOING_AWAY: 1001,
} as const;

export function readyFrame(position: string): string {
  return `{"type":"ready","position":${JSON.stringify(position)}}`;
}

/** `item` is the list item's JSON as the list writes it (inserted as it is). */
export function conversationFrame(position: string | null, item: string): string {
  return `{"type":"conversation","position":${JSON.stringify(position)},"item":${item}}`;
}

export function removedFrame(position: string | null, conversationId: string): string {
  return `{"type":"removed","position":${JSON.stringify(position)},"conversationId":${JSON.stringify(conversationId)}}`;
}

export function messageFrame(
  position: string | null,
  event: 'created' | 'edited' | 'deleted',
  conversationId: string,
  messageId: string,
  message: unknown,
): string {
  return JSON.stringify({ type: 'message', position, event, conversationId, messageId, message: message ?? null });
}

export function resyncFrame(reason: string): string {
  return JSON.stringify({ type: 'resync', reason });
}
