import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { TokenClaims, TokenService } from '../domain/auth/tokens.js';
import type { Hub, Peer } from './hub.js';
import { CLOSE, readyFrame } from './protocol.js';

export interface StreamOptions {
  authTimeoutMs: number;
  pingMs: number;
}

export interface StreamDeps {
  tokens: TokenService;
  hub: Hub;
  /** Starts following the user (their member state); resolves to the position the stream starts at. */
  follow(userId: string): Promise<string>;
  onError(err: unknown): void;
}

/** Peers that have not answered since the last ping round; dropped at the next one. */
const alive = new WeakMap<WebSocket, boolean>();

/**
 * One stream connection: authentication (the token from the Authorization header or the `token` query
 * parameter of the upgrade, or else the first frame), the token's expiry (the connection closes at
 * it), and what a client may send (nothing but that first frame).
 */
export function serveStream(socket: WebSocket, token: string | undefined, deps: StreamDeps, o: StreamOptions): void {
  let userId: string | undefined;
  let peer: Peer | undefined;
  let expiry: NodeJS.Timeout | undefined;
  const close = (code: number, reason: string) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
  };
  alive.set(socket, true);
  socket.on('pong', () => alive.set(socket, true));

  const authenticate = (raw: string): void => {
    let claims: TokenClaims;
    try {
      claims = deps.tokens.verify(raw);
    } catch {
      close(CLOSE.UNAUTHORIZED, 'invalid or expired token');
      return;
    }
    const id = claims.sub;
    const p: Peer = {
      send: (frame) => socket.send(frame),
      batch: (sends) => corked(socket, sends),
      close,
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
    };
    if (!deps.hub.add(id, p)) {
      close(CLOSE.TOO_MANY_CONNECTIONS, 'too many connections for this user');
      return;
    }
    userId = id;
    peer = p;
    if (claims.exp !== undefined) {
      expiry = setTimeout(() => close(CLOSE.UNAUTHORIZED, 'token expired'), Math.max(0, claims.exp * 1000 - Date.now()));
      expiry.unref();
    }
    deps.follow(id).then(
      (position) => {
        if (socket.readyState === socket.OPEN) socket.send(readyFrame(position));
      },
      (err: unknown) => {
        deps.onError(err);
        close(CLOSE.GOING_AWAY, 'the stream cannot start now; retry');
      },
    );
  };

  const authTimer = token === undefined ? setTimeout(() => close(CLOSE.AUTH_TIMEOUT, 'no auth frame in time'), o.authTimeoutMs) : undefined;
  authTimer?.unref();

  socket.on('message', (data, isBinary) => {
    if (isBinary) return close(CLOSE.POLICY, 'binary frames are not accepted');
    if (userId !== undefined || token !== undefined) return close(CLOSE.POLICY, 'clients send nothing after authentication');
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      return close(CLOSE.INVALID_FRAME, 'frames are JSON');
    }
    const f = frame as { type?: unknown; token?: unknown };
    if (typeof frame !== 'object' || frame === null || f.type !== 'auth' || typeof f.token !== 'string') {
      return close(CLOSE.POLICY, 'the first frame must be {"type":"auth","token":"..."}');
    }
    clearTimeout(authTimer);
    authenticate(f.token);
  });

  socket.on('close', () => {
    clearTimeout(authTimer);
    clearTimeout(expiry);
    if (userId !== undefined && peer !== undefined) deps.hub.remove(userId, peer);
  });
  socket.on('error', (err) => deps.onError(err));

  if (token !== undefined) authenticate(token);
}

/**
 * ws writes every frame to the TCP socket on its own (a syscall and, with Nagle off, a packet each)
 * and offers no batching of its own; corked, the frames sent meanwhile leave in one writev. The
 * underlying socket is ws's `_socket` (not in its types).
 */
function corked(socket: WebSocket, sends: () => void): void {
  const raw = (socket as unknown as { _socket?: Duplex | null })._socket;
  raw?.cork();
  try {
    sends();
  } finally {
    raw?.uncork();
  }
}

/** Drops peers that did not answer the previous ping, and pings the others (one timer for all). */
export function startHeartbeat(sockets: () => Iterable<WebSocket>, pingMs: number): () => void {
  const timer = setInterval(() => {
    for (const s of sockets()) {
      if (alive.get(s) === false) {
        s.terminate();
        continue;
      }
      alive.set(s, false);
      s.ping();
    }
  }, pingMs);
  timer.unref();
  return () => clearInterval(timer);
}
