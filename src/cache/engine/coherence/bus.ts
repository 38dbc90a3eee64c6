import type { Logger } from 'pino';
import { clientOptions, connect, type RedisConnection } from '../remote/client.js';
import type { RedisTarget } from '../types.js';

export interface BusOptions {
  target: RedisTarget;
  timeoutMs: number;
  connectionName: string;
  /** This instance's inbox: the one channel it subscribes to. */
  channel: string;
  log: Logger;
  onMessage: (message: Buffer) => void;
  onState: (up: boolean) => void;
}

/**
 * The subscriber connection (a connection in subscribe mode can do nothing else, hence its own).
 *
 * "Up" means: connected AND our SUBSCRIBE was confirmed on this very connection. We subscribe
 * ourselves on every 'ready' instead of relying on ioredis' autoResubscribe, so that the moment the
 * bus counts as up is exactly the moment messages can arrive again. Every drop is reported, so that
 * the engine stops trusting its L1 (messages published meanwhile are lost for good).
 * On a cluster, PUBLISH reaches every node's subscribers, so a subscription on any node is enough
 * (a message can still be lost on the cluster bus or while the subscriber moves: see below).
 */
export class Bus {
  private readonly sub: RedisConnection;
  private up = false;
  private closed = false;

  constructor(private readonly o: BusOptions) {
    // SUBSCRIBE is not on any request's path: give it more time than a data command.
    const opts = { ...clientOptions(o.connectionName, Math.max(1000, o.timeoutMs * 10)), autoResubscribe: false, enableAutoPipelining: false };
    this.sub = connect(o.target, opts);
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => o.onMessage(message));
    this.sub.on('ready', () => this.subscribe());
    this.sub.on('close', () => this.setUp(false));
    this.sub.on('end', () => this.setUp(false));
    // On a cluster, ioredis moves the subscriber to another node when its node fails, resubscribes by
    // itself and emits nothing for a classic subscription ('-subscriber' / '+subscriber' are for
    // sharded ones): messages published meanwhile are lost without the bus ever being down. The
    // inbox's numbering tells instead (see the engine's onInbox).
    this.sub.on('error', (err: Error) => o.log.debug({ err: err.message }, 'cache bus connection error'));
  }

  get isUp(): boolean {
    return this.up;
  }

  private subscribe(): void {
    this.sub.subscribe(this.o.channel).then(
      () => {
        if (this.sub.status === 'ready' && !this.closed) this.setUp(true);
      },
      (err: unknown) => {
        this.o.log.warn({ err: String(err) }, 'cache bus subscribe failed; reconnecting');
        // Start over on a new connection rather than guess which channels are subscribed.
        if (!this.closed && this.sub.status === 'ready') this.sub.disconnect(true);
      },
    );
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (!this.closed) this.o.onState(up);
  }

  close(): void {
    this.closed = true;
    this.up = false;
    this.sub.disconnect();
  }
}
