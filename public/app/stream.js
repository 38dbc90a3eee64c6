// @ts-check
/**
 * GET /api/v1/stream, kept open: the token goes in the first frame (a browser cannot set a header on a
 * WebSocket, and a query parameter would land in access logs), and a closed socket is reopened after an
 * exponential backoff with jitter, so that a restarted gateway is not hit by every client at once.
 * The wire protocol is src/push/protocol.ts.
 */

/** @typedef {import('./api.js').ConversationListItem} ConversationListItem */
/** @typedef {import('./api.js').Message} Message */
/**
 * @typedef {{ type: 'ready', position: string }
 *   | { type: 'conversation', position: string | null, item: ConversationListItem }
 *   | { type: 'removed', position: string | null, conversationId: string }
 *   | { type: 'message', position: string | null, event: 'created' | 'edited' | 'deleted',
 *       conversationId: string, messageId: string, message: Message | null }
 *   | { type: 'resync', reason: string }} Frame
 */
/** @typedef {'connecting' | 'live' | 'reconnecting'} StreamState */

/** The close code of a bad or expired token: reconnecting with it cannot help (CLOSE.UNAUTHORIZED). */
export const CLOSE_UNAUTHORIZED = 4401;

export const BACKOFF_FIRST_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;

/** The wait before reconnect attempt `attempt` (0-based): doubling, capped, at 50–100% of it. */
export function backoffMs(/** @type {number} */ attempt, random = Math.random()) {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt) * (0.5 + random / 2);
}

/**
 * @param {{ token: string,
 *   onFrame(frame: Frame): void,
 *   onState(state: StreamState): void,
 *   onUnauthorized(): void }} handlers
 * @returns {{ close(): void }}
 */
export function openStream(handlers) {
  let attempt = 0;
  let stopped = false;
  /** @type {WebSocket | undefined} */
  let socket;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retry;

  const connect = () => {
    handlers.onState(attempt === 0 ? 'connecting' : 'reconnecting');
    const url = new URL('/api/v1/stream', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: handlers.token }));
    ws.onmessage = (event) => {
      const frame = /** @type {Frame} */ (JSON.parse(String(event.data)));
      if (frame.type === 'ready') {
        attempt = 0;
        handlers.onState('live');
      }
      handlers.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (stopped) return;
      if (event.code === CLOSE_UNAUTHORIZED) {
        handlers.onUnauthorized();
        return;
      }
      handlers.onState('reconnecting');
      retry = setTimeout(connect, backoffMs(attempt++));
    };
  };

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(retry);
      socket?.close(1000, 'logged out');
    },
  };
}
