import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

interface Pair {
  client: Socket;
  upstream: Socket;
  held: Array<[Socket, Buffer]>;
  /** The server's bytes on their way to the client while `replyDelayMs` > 0, in order. */
  late: Array<{ at: number; chunk: Buffer }>;
  lateTimer: NodeJS.Timeout | undefined;
  /** The server closed while its last bytes were held: the client is closed once they are delivered. */
  upstreamGone: boolean;
}

/**
 * A TCP proxy in front of a server (Redis, PostgreSQL), to fault one client's path without touching the
 * server: pause() holds every byte in both directions (connections stay open, like a hung network path
 * or a frozen peer); holdReplies() holds only the server's bytes, and keeps them when the server closes;
 * resume() delivers what was held, each connection's bytes in one write, so the client reads them in one
 * chunk; dropConnections() closes every proxied connection. `replyDelayMs` > 0 delivers the server's
 * bytes that late, in order, and all of them: a server that is slow (a saturated host) but answers, as
 * opposed to one that answers nothing (pause, or SIGSTOP). It applies to bytes received from then on.
 */
export class TcpProxy {
  replyDelayMs = 0;
  private holdToServer = false;
  private holdToClient = false;
  private readonly pairs = new Set<Pair>();
  private upstreamClosed: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetPort));
    proxy = new TcpProxy(server, port);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  private accept(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, held: [], late: [], lateTimer: undefined, upstreamGone: false };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (this.holdToServer) pair.held.push([upstream, chunk]);
      else if (!pair.upstreamGone) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.holdToClient) pair.held.push([client, chunk]);
      else if (this.replyDelayMs > 0 || pair.late.length > 0) this.deliverLate(pair, chunk);
      else client.write(chunk);
    });
    const close = () => {
      if (pair.lateTimer) clearTimeout(pair.lateTimer);
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    const upstreamClose = () => {
      for (const notify of this.upstreamClosed.splice(0)) notify();
      if (pair.held.some(([to]) => to === client)) pair.upstreamGone = true;
      else close();
    };
    client.on('close', close);
    client.on('error', close);
    upstream.on('close', upstreamClose);
    upstream.on('error', () => undefined); // 'close' follows
  }

  /** One FIFO and one timer per connection, so that chunks never overtake each other. */
  private deliverLate(pair: Pair, chunk: Buffer): void {
    const last = pair.late[pair.late.length - 1]?.at ?? 0;
    pair.late.push({ at: Math.max(performance.now() + this.replyDelayMs, last), chunk });
    if (pair.lateTimer === undefined) this.pumpLate(pair);
  }

  /** Writes the chunks that are due, and sets the timer for the next one. */
  private pumpLate(pair: Pair): void {
    pair.lateTimer = undefined;
    const now = performance.now();
    while (pair.late.length > 0 && pair.late[0]!.at <= now) pair.client.write(pair.late.shift()!.chunk);
    if (pair.late.length > 0) pair.lateTimer = setTimeout(() => this.pumpLate(pair), Math.max(1, pair.late[0]!.at - now));
  }

  /** The proxy as a Redis URL (when it is in front of a Redis). */
  get redisUrl(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  pause(): void {
    this.holdToServer = true;
    this.holdToClient = true;
  }

  holdReplies(): void {
    this.holdToClient = true;
  }

  /** Resolves when the server next closes a proxied connection. */
  nextUpstreamClose(): Promise<void> {
    return new Promise((resolve) => this.upstreamClosed.push(resolve));
  }

  resume(): void {
    this.holdToServer = false;
    this.holdToClient = false;
    for (const pair of this.pairs) {
      for (const to of [pair.upstream, pair.client]) {
        const chunks = pair.held.filter(([t]) => t === to).map(([, c]) => c);
        if (chunks.length > 0 && !(to === pair.upstream && pair.upstreamGone)) to.write(Buffer.concat(chunks));
      }
      pair.held.length = 0;
      if (pair.upstreamGone) {
        this.pairs.delete(pair);
        pair.client.end();
      }
    }
  }

  dropConnections(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
