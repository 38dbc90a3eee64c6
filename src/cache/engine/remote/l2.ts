import type { Logger } from 'pino';
import type { RedisTarget } from '../types.js';
import { Breaker } from './breaker.js';
import { clientOptions, connect, isCluster, scanNodes, type RedisConnection } from './client.js';
import { Deadlines } from './deadline.js';
import { defineScripts } from './scripts.js';

export class RedisUnavailable extends Error {
  constructor(reason: string) {
    super(`redis unavailable: ${reason}`);
    this.name = 'RedisUnavailable';
  }
}
// Shared instances: thrown on every call while Redis is down, so no stack capture per call.
const NOT_CONNECTED = new RedisUnavailable('not connected');
const BREAKER_OPEN = new RedisUnavailable('circuit breaker open');
const TIMED_OUT = new RedisUnavailable('timed out');
const SILENT = new RedisUnavailable('no late reply');
const MOVING = new RedisUnavailable('cluster topology changing');

/**
 * Replies of a cluster whose topology is changing (a slot moved, a failover under way, a master
 * demoted): the node did not run the call, another will. ioredis follows MOVED/ASK itself, except
 * in a pipeline where other calls succeeded (an auto-pipeline mixing a write's installs with its
 * broadcast): there the reply surfaces as it is.
 */
const CLUSTER_IN_MOTION = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|LOADING|READONLY) /;

/**
 * How a call goes through: 'read' (the breaker may refuse it), 'essential' (skips an open breaker:
 * acks, lease renewals (so that Redis coming back is seen at their pace, not the breaker's), leaving the
 * registry), 'write' (skips the breaker and waits for a late reply: see call()).
 */
export type CallKind = 'read' | 'essential' | 'write';

/** Replies up to this many timeouts late are a slow Redis (a load spike), not a down one. */
const LATE_REPLY_TIMEOUTS = 4;

/** A piece as Redis holds it. */
export interface StoredPiece {
  version: number;
  /** Redis ms its data was read from the source. */
  t: number;
  data: Buffer;
}

export interface BroadcastReply {
  /** Redis TIME (ms) when the script ran. */
  now: number;
  /** The note's journal position ('' when not journaled). */
  position: string;
  /** Another live instance wants to hear when this write has been applied everywhere. */
  settle: boolean;
  /** instanceId -> lease expiry (Redis ms), live instances but the sender. */
  live: Map<string, number>;
}

export interface RedisL2Options {
  target: RedisTarget;
  namespace: string;
  timeoutMs: number;
  /** Deadline of 'write' calls: as long as a write waits for Redis at all (see coherence/publisher.ts). */
  writeTimeoutMs: number;
  connectionName: string;
  breakerThreshold: number;
  breakerCooldownMs: number;
  log: Logger;
  /** 'up' = connected and breaker closed. */
  onState: (up: boolean) => void;
  /** The command connection was lost: Redis may have restarted or failed over (and lost writes). */
  onDisconnect: () => void;
  onBreakerOpen: (failures: number) => void;
}

/**
 * The command connection: keys, scripts, the breaker, and what tells a slow Redis from an
 * unreachable one. Knows nothing about leases or L1.
 *
 * Slow or unreachable: a call that times out counts against Redis only if no reply at all came back
 * on this connection since the call was sent, within LATE_REPLY_TIMEOUTS more timeouts. A saturated
 * host answers late but answers (and late replies of timed-out calls count as replies), so a load
 * spike opens no breaker and sends no write down the outage path; a paused, killed or partitioned
 * Redis answers nothing, and does. The grace is needed because ioredis sends one auto-pipeline at a
 * time: behind a slow reply, a call may not even have left when its deadline passes.
 */
export class RedisL2 {
  readonly cmd: RedisConnection;
  readonly breaker: Breaker;
  readonly registryKey: string;
  readonly journalKey: string;
  readonly journalMetaKey: string;
  readonly settlersKey: string;
  readonly seqKey: string;
  readonly inboxPrefix: string;
  private readonly ns: string;
  private readonly deadlines: Deadlines;
  private readonly writeDeadlines: Deadlines;
  private readonly lateReplies: Deadlines;
  private readonly silentWrites: Deadlines;
  private connected = false;
  private lastUp = false;
  private lastErrorLog = 0;
  private lastReplyAt = -Infinity;
  private unreachable: number | undefined;
  private coordUnreachable: number | undefined;
  private readonly isClusterClient: boolean;

  constructor(private readonly o: RedisL2Options) {
    this.ns = o.namespace;
    this.registryKey = `${o.namespace}:{coord}:registry`;
    this.journalKey = `${o.namespace}:{coord}:journal`;
    this.journalMetaKey = `${o.namespace}:{coord}:jmeta`;
    this.settlersKey = `${o.namespace}:{coord}:settlers`;
    this.seqKey = `${o.namespace}:{coord}:seq`;
    this.inboxPrefix = `${o.namespace}:inbox:`;
    this.deadlines = new Deadlines(o.timeoutMs, TIMED_OUT);
    this.writeDeadlines = new Deadlines(o.writeTimeoutMs, TIMED_OUT);
    this.lateReplies = new Deadlines(LATE_REPLY_TIMEOUTS * o.timeoutMs, SILENT);
    this.silentWrites = new Deadlines((1 + LATE_REPLY_TIMEOUTS) * o.timeoutMs, SILENT);
    this.breaker = new Breaker(
      o.breakerThreshold,
      o.breakerCooldownMs,
      (failures) => {
        o.onBreakerOpen(failures);
        this.refresh();
      },
      () => this.refresh(),
    );
    this.isClusterClient = 'cluster' in o.target;
    this.cmd = defineScripts(
      connect(o.target, {
        ...clientOptions(o.connectionName),
        // Auto-pipelining pays off where several calls share a tick: reads and fills under load, and a
        // write's installs with its broadcast (one socket write for all; on a cluster, one per node).
        // Calls that come alone gain nothing from a Pipeline object and a deferred flush.
        autoPipeliningIgnoredCommands: ['cgRenew', 'publish'],
      }),
    );
    this.cmd.on('ready', () => {
      this.connected = true;
      this.refresh();
    });
    this.cmd.on('close', () => this.onClose());
    this.cmd.on('end', () => this.onClose());
    // A cluster loses one node at a time: the connection as a whole stays up, but a failed-over master
    // may have lost writes its replica had not received. Told like a reconnect (see onDisconnect).
    this.cmd.on('-node', () => o.onDisconnect());
    this.cmd.on('error', (err: Error) => this.logError(err));
  }

  get isUp(): boolean {
    return this.connected && !this.breaker.isOpen;
  }

  get isConnected(): boolean {
    return this.connected && this.cmd.status === 'ready';
  }

  /**
   * Since when (performance.now(), the moment it was *observed*) Redis has answered nothing at all,
   * or undefined while it answers. On a cluster, a reply of any node clears it: it says nothing about
   * one node in particular (see coordinationUnreachableSince).
   */
  get unreachableSince(): number | undefined {
    return this.unreachable;
  }

  /**
   * Since when the coordination slot (registry, journal, heartbeats) has answered nothing, observed
   * as above. Every instance's lease is renewed there and only there, so from the moment it stopped
   * answering nobody can renew: a writer that finds it unreachable for longer than a lease need not
   * wait for anyone (see coherence/publisher.ts). On one server it is the server; on a cluster, only
   * calls to that slot set and clear it (another node's replies prove nothing about that master).
   */
  get coordinationUnreachableSince(): number | undefined {
    return this.isClusterClient ? this.coordUnreachable : this.unreachable;
  }

  /**
   * What a write's install may take as Redis' first silence: on one server, the server's; on a
   * cluster none (a failure seen may be another master's than the piece's), so an install counts
   * from its own first failure.
   */
  get piecesUnreachableSince(): number | undefined {
    return this.isClusterClient ? undefined : this.unreachable;
  }

  pieceKey(kind: string, id: string): string {
    return `${this.ns}:{${kind}:${id}}`;
  }

  /**
   * Runs one Redis call through the breaker. 'essential' and 'write' calls skip an open breaker,
   * because losing them costs correctness or makes writers wait out leases, and they are few; they
   * still feed the breaker with their outcome. A 'write' call (a write's install and broadcast, a
   * replay, a journal reset) is not given up after the read timeout: its late reply still completes
   * the write, whereas a retry of a broadcast that Redis has queued would journal and send it twice.
   */
  async call<T>(fn: (r: RedisConnection) => Promise<T>, kind: CallKind = 'read', coord = false): Promise<T> {
    const sentAt = performance.now();
    if (!this.connected || this.cmd.status !== 'ready') {
      this.unreachable ??= sentAt;
      this.coordUnreachable ??= sentAt;
      throw NOT_CONNECTED;
    }
    if (kind === 'read' && !this.breaker.allow()) throw BREAKER_OPEN;
    const raw = fn(this.cmd);
    // Any reply, even one that comes after its deadline, or an error reply, proves Redis alive.
    const replied = coord ? this.onCoordReply : this.onReply;
    raw.then(replied, (err: unknown) => {
      if (isReplyError(err)) replied();
    });
    // A write call waits a lease for its reply, but Redis' silence is seen as soon as a read's would
    // be: the outage window (coherence/publisher.ts) counts from that moment, not from the timeout.
    if (kind === 'write') {
      this.silentWrites.track(raw).catch((err: unknown) => {
        if (err === SILENT) this.noReplySince(sentAt, false, coord);
      });
    }
    try {
      return await (kind === 'write' ? this.writeDeadlines : this.deadlines).track(raw);
    } catch (err) {
      if (isReplyError(err)) {
        if (!CLUSTER_IN_MOTION.test((err as Error).message)) throw err;
        // Not a refusal: the call may go again (nothing ran), once the slot map is right.
        if (isCluster(this.cmd)) this.cmd.refreshSlotsCache();
        throw MOVING;
      }
      if (err !== TIMED_OUT || kind === 'write') this.noReplySince(sentAt, err !== TIMED_OUT, coord);
      else {
        this.lateReplies.track(raw).catch((late: unknown) => {
          if (!isReplyError(late)) this.noReplySince(sentAt, false, coord);
        });
      }
      throw err;
    }
  }

  /**
   * A call sent at `sentAt` failed (`always`) or got no reply: counted unless Redis answered meanwhile.
   * Unreachable from *now*, when it is seen, not from `sentAt`: a call may have waited in our own
   * socket buffer (behind a slow pipeline, an event loop at 0.99) while Redis still ran other
   * instances' renewals. A window counted from `sentAt` could close before their leases do.
   */
  private noReplySince(sentAt: number, always: boolean, coord: boolean): void {
    if (!always && this.lastReplyAt > sentAt) return;
    this.breaker.failure();
    const now = performance.now();
    this.unreachable ??= now;
    if (coord) this.coordUnreachable ??= now;
  }

  private readonly onReply = (): void => {
    this.lastReplyAt = performance.now();
    this.unreachable = undefined;
    this.breaker.success();
  };

  private readonly onCoordReply = (): void => {
    this.onReply();
    this.coordUnreachable = undefined;
  };

  async readMany(keys: readonly string[]): Promise<Array<StoredPiece | null>> {
    return this.call(async (r) => {
      const replies = await Promise.all(keys.map((k) => r.hmgetBuffer(k, 'v', 't', 'd')));
      return replies.map(parseStored);
    });
  }

  /** Returns whether it was stored (false: a newer version is there). t undefined: Redis now. */
  async install(key: string, version: number, t: number | undefined, ttlMs: number, data: Buffer, kind: 'read' | 'write'): Promise<boolean> {
    const status = await this.call((r) => r.cgInstall(key, String(version), t === undefined ? '' : String(Math.floor(t)), ttlMs, data), kind);
    return Number(status) === 1;
  }

  async renew(id: string, leaseMs: number, inbox: string, payload: string, settles: boolean): Promise<number> {
    return Number(await this.call((r) => r.cgRenew(this.registryKey, this.settlersKey, this.seqKey, id, leaseMs, inbox, payload, settles ? '1' : '0'), 'essential', true));
  }

  async broadcast(sender: string, message: Buffer, note: Buffer | undefined, retentionMs: number): Promise<BroadcastReply> {
    const reply = await this.call(
      (r) =>
        r.cgBroadcast(
          this.registryKey,
          this.journalKey,
          this.journalMetaKey,
          this.settlersKey,
          this.seqKey,
          this.inboxPrefix,
          sender,
          message,
          note === undefined ? '0' : '1',
          note ?? EMPTY,
          retentionMs,
        ),
      'write',
      true,
    );
    const live = new Map<string, number>();
    for (let i = 3; i + 1 < reply.length; i += 2) live.set(String(reply[i]), Number(reply[i + 1]));
    return { now: Number(reply[0]), position: String(reply[1]), settle: Number(reply[2]) === 1, live };
  }

  /**
   * The journal's reads wait for a late reply (as writes do): a client starting or resuming its stream
   * would rather wait than start over, and a slow Redis is not an outage (see call()).
   */
  async journalHead(): Promise<string> {
    return String(await this.call((r) => r.cgJournalHead(this.journalKey, this.journalMetaKey), 'write', true));
  }

  /**
   * Notes after `after` in `epoch` (from `rewindMs` before it when > 0); undefined when the epoch
   * differs or notes may have been trimmed.
   */
  async journalRead(epoch: string, after: string, count: number, rewindMs: number): Promise<Array<{ id: string; note: Buffer }> | undefined> {
    const reply = await this.call((r) => r.cgJournalReadBuffer(this.journalKey, this.journalMetaKey, epoch, after, count, rewindMs), 'write', true);
    if (Number(reply[0]) !== 1) return undefined;
    const out: Array<{ id: string; note: Buffer }> = [];
    for (let i = 1; i + 1 < reply.length; i += 2) out.push({ id: String(reply[i]), note: reply[i + 1] as Buffer });
    return out;
  }

  async journalReset(): Promise<void> {
    await this.call((r) => r.cgJournalReset(this.journalMetaKey), 'write', true);
  }

  async publish(channel: string, message: string | Buffer): Promise<void> {
    await this.call((r) => r.publish(channel, message), 'essential');
  }

  async unregister(id: string): Promise<void> {
    await this.call((r) => r.zrem(this.registryKey, id), 'essential', true);
  }

  /**
   * Reclaims every piece (SCAN + UNLINK on every master, never KEYS: KEYS blocks the server for the
   * whole keyspace). One key per UNLINK: on a cluster the keys of one call must share a slot.
   */
  async sweep(): Promise<number> {
    const pattern = `${escapeGlob(this.ns)}:{*}`;
    const coord = `${this.ns}:{coord}`;
    let removed = 0;
    for (const node of scanNodes(this.cmd)) {
      let cursor = '0';
      do {
        const [next, keys] = await this.call(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000), 'write');
        cursor = next;
        const mine = keys.filter((k) => !k.startsWith(coord));
        if (mine.length > 0) removed += (await this.call(() => Promise.all(mine.map((k) => this.cmd.unlink(k))), 'write')).reduce((a, b) => a + b, 0);
      } while (cursor !== '0');
    }
    return removed;
  }

  close(): void {
    this.cmd.disconnect();
  }

  private onClose(): void {
    const was = this.connected;
    this.connected = false;
    if (was) this.o.onDisconnect();
    this.refresh();
  }

  private refresh(): void {
    const up = this.isUp;
    if (up !== this.lastUp) {
      this.lastUp = up;
      this.o.onState(up);
    }
  }

  private logError(err: Error): void {
    // Connection errors repeat on every reconnect attempt: one warn per 10 s is enough.
    const now = performance.now();
    if (now - this.lastErrorLog > 10_000) {
      this.lastErrorLog = now;
      this.o.log.warn({ err: err.message }, 'cache redis connection error');
    } else {
      this.o.log.debug({ err: err.message }, 'cache redis connection error');
    }
  }
}

const EMPTY = Buffer.alloc(0);

function parseStored(reply: Array<Buffer | null>): StoredPiece | null {
  const [v, t, d] = reply;
  if (!v || !t || !d) return null;
  const version = Number(v.toString());
  const at = Number(t.toString());
  if (!Number.isSafeInteger(version) || !Number.isFinite(at)) return null;
  return { version, t: at, data: d };
}

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
