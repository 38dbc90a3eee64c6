import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../helpers/net.js';

/**
 * A TCP proxy whose server-to-client bytes arrive `delayMs` late, in order, and all of them: a Redis
 * that is slow (a saturated host) but answers, as opposed to one that answers nothing (TcpProxy's
 * pause, or SIGSTOP). Requests pass at once. The delay applies to bytes received from then on.
 */
export class SlowProxy {
  delayMs = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<SlowProxy> {
    const port = await freePort();
    let proxy: SlowProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetPort));
    proxy = new SlowProxy(server, port);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    // One FIFO and one timer per connection, so that chunks never overtake each other.
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = (): void => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.at <= now) client.write(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(pump, Math.max(1, queue[0]!.at - now));
    };
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      const last = queue[queue.length - 1]?.at ?? 0;
      queue.push({ at: Math.max(performance.now() + this.delayMs, last), chunk });
      if (timer === undefined) pump();
    });
    const close = (): void => {
      if (timer) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('close', close);
      s.on('error', close);
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
