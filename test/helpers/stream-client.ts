import WebSocket, { type ClientOptions } from 'ws';

/** A frame the stream sent (src/push/protocol.ts), parsed. */
export interface Frame {
  type: 'ready' | 'conversation' | 'removed' | 'message' | 'resync';
  position?: string | null;
  item?: any;
  conversationId?: string;
  event?: 'created' | 'edited' | 'deleted';
  messageId?: string;
  message?: any;
  reason?: string;
}

export interface Closed {
  code: number;
  reason: string;
}

/** How the client hands its token over: the upgrade's header, its `token` query parameter, or a first frame. */
export type StreamAuth = { header: string } | { query: string } | { frame: string } | 'none';

export const STREAM_PATH = '/api/v1/stream';

/** `http://host:port` of a gateway → the stream's `ws://` URL. */
export function streamUrl(gatewayUrl: string, query = ''): string {
  return `${gatewayUrl.replace(/^http/, 'ws')}${STREAM_PATH}${query}`;
}

/**
 * One client of GET /api/v1/stream over a real WebSocket: keeps every frame it receives, in order,
 * with the time it arrived, and lets a test wait for a frame, for the close, or for nothing more.
 */
export class StreamClient {
  readonly frames: Frame[] = [];
  /** performance.now() at each frame's arrival (same index as `frames`). */
  readonly arrivals: number[] = [];
  readonly closed: Promise<Closed>;
  closedWith: Closed | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString('utf8') };
        resolve(this.closedWith);
        this.wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('the stream sent a binary frame');
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.arrivals.push(performance.now());
      this.wake();
    });
    // Errors end in 'close' (a refused upgrade, a reset): the close code tells the test what happened.
    ws.on('error', () => undefined);
  }

  /** Opens a connection (resolves once the socket is open, before any authentication answer). */
  static async open(gatewayUrl: string, auth: StreamAuth, options: ClientOptions = {}): Promise<StreamClient> {
    const query = typeof auth === 'object' && 'query' in auth ? `?token=${encodeURIComponent(auth.query)}` : '';
    const headers = typeof auth === 'object' && 'header' in auth ? { authorization: `Bearer ${auth.header}` } : undefined;
    const ws = new WebSocket(streamUrl(gatewayUrl, query), { ...options, headers: { ...options.headers, ...headers } });
    const client = new StreamClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('close', (code) => reject(new Error(`closed before open: ${code}`)));
    });
    if (typeof auth === 'object' && 'frame' in auth) ws.send(JSON.stringify({ type: 'auth', token: auth.frame }));
    return client;
  }

  /**
   * Opens and waits for the `ready` frame: from then on, every write the user is concerned by reaches
   * it. A close with 1001 before `ready` says "cannot start now; retry" (a Redis command of the start
   * timed out): retried, as a client would, a few times.
   */
  static async connect(gatewayUrl: string, token: string, timeoutMs = 10_000): Promise<StreamClient> {
    for (let attempt = 1; ; attempt++) {
      const c = await StreamClient.open(gatewayUrl, { header: token });
      try {
        await c.waitFor((f) => f.type === 'ready', timeoutMs, 'ready');
        return c;
      } catch (err) {
        if (c.closedWith?.code !== 1001 || attempt === 3) throw err;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  /** The position of the `ready` frame. */
  get readyPosition(): string {
    const r = this.frames.find((f) => f.type === 'ready');
    if (r?.position == null) throw new Error('no ready frame yet');
    return r.position;
  }

  /** The first frame (at index `from` or later) that matches; fails after `timeoutMs` or on a close. */
  async waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000, what = 'a matching frame', from = 0): Promise<Frame> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found;
      if (this.closedWith) throw new Error(`waiting for ${what}: closed with ${this.closedWith.code} (${this.closedWith.reason}); frames: ${this.describe()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; frames: ${this.describe()}`);
      await this.nextEvent(left);
    }
  }

  /** Resolves with the close (code, reason); fails if the socket is still open after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms; frames: ${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Frames other than `ready`. */
  get events(): Frame[] {
    return this.frames.filter((f) => f.type !== 'ready');
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Closes (normal closure) and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.closedWith) return;
    this.ws.close(1000);
    await this.waitClosed().catch(() => this.ws.terminate());
  }

  describe(): string {
    return JSON.stringify(this.frames.map((f) => ({ ...f, item: f.item ? { id: f.item.id, title: f.item.title } : undefined }))).slice(0, 2000);
  }

  private nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
