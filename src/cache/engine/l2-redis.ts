import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Breaker } from './breaker.js';
import { Deadlines } from './deadline.js';
import { COORDINATION, defineScripts, type ScriptedRedis } from './lua.js';

/**
 * Client options for every engine connection.
 * - enableOfflineQueue false: with Redis down, a command fails at once instead of waiting in a queue
 *   (the "app hangs when Redis is down" reports of cache-manager/keyv users).
 * - retryStrategy always returns a delay: with the offline queue off, a client that stops reconnecting
 *   would stay unusable for good. Capped exponential backoff.
 * - No commandTimeout on the command connection: every call gets a deadline of redisTimeoutMs from
 *   deadline.ts instead (see there why ioredis' own would misfire after event-loop stalls). Either way
 *   a timed-out command stays in ioredis' queue until its reply or the connection's end: Redis replies
 *   in order, so it must. The subscriber connection keeps a plain commandTimeout (SUBSCRIBE only).
 * - maxRetriesPerRequest 0: a command is never replayed on a new connection (a replayed fill could
 *   land long after the state it was checked against; the fill script also refuses old loads).
 * - lazyConnect false, and nobody awaits the connection: the engine works from memory until it is up.
 */
export function clientOptions(connectionName: string, commandTimeout?: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(20 * 2 ** Math.min(times - 1, 6), 1000),
    connectTimeout: 2000,
    lazyConnect: false,
    connectionName,
    // Commands issued in the same tick go out in one write: under concurrency the socket writes (one
    // syscall per command otherwise) are the largest CPU cost of the Redis path.
    enableAutoPipelining: true,
  };
}

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

export interface HeadReply {
  gen: number;
  epoch: number;
  /** Redis TIME in ms. */
  now: number;
  /** A write holds the group (see engine.ts): what this load reads must not be stored. */
  held: boolean;
}

export interface RegistryReply {
  /** Redis TIME (ms) when the script ran. */
  now: number;
  /** instanceId -> lease expiry (Redis ms), live instances only. */
  live: Map<string, number>;
}

/** A message for the inboxes (channel `prefix + instanceId`) of the instances a script addresses, never the sender's. */
export interface Addressing {
  prefix: string;
  message: string;
  sender: string;
}

export interface RedisL2Options {
  url: string;
  namespace: string;
  timeoutMs: number;
  connectionName: string;
  breakerThreshold: number;
  breakerCooldownMs: number;
  log: Logger;
  /** 'up' = connected and breaker closed. */
  onState: (up: boolean) => void;
  /** The command connection was lost: Redis may have restarted (gens reset) or missed writes. */
  onDisconnect: () => void;
  onBreakerOpen: (failures: number) => void;
}

/** The command connection: keys, scripts, breaker. Knows nothing about leases or L1. */
export class RedisL2 {
  readonly cmd: ScriptedRedis;
  readonly breaker: Breaker;
  readonly registryKey: string;
  readonly epochKey: string;
  readonly seqKey: string;
  private readonly ns: string;
  private readonly deadlines: Deadlines;
  private connected = false;
  private lastUp = false;
  private lastErrorLog = 0;

  constructor(private readonly o: RedisL2Options) {
    this.ns = o.namespace;
    this.registryKey = `${o.namespace}:${COORDINATION}:registry`;
    this.epochKey = `${o.namespace}:epoch`;
    this.seqKey = `${o.namespace}:seq`;
    this.deadlines = new Deadlines(o.timeoutMs, TIMED_OUT);
    this.breaker = new Breaker(
      o.breakerThreshold,
      o.breakerCooldownMs,
      (failures) => {
        o.onBreakerOpen(failures);
        this.refresh();
      },
      () => this.refresh(),
    );
    this.cmd = defineScripts(
      new Redis(o.url, {
        ...clientOptions(o.connectionName),
        // Auto-pipelining pays off where many calls share a tick (reads and fills under load). The
        // write path's calls come one at a time: through a pipeline each costs a Pipeline object and
        // a deferred flush for nothing, so they go straight to the socket.
        autoPipeliningIgnoredCommands: ['cgHold', 'cgRelease', 'cgInvalidate', 'cgClear', 'cgRenew', 'publish', 'zrem'],
      }),
    );
    this.cmd.on('ready', () => {
      this.connected = true;
      this.refresh();
    });
    this.cmd.on('close', () => {
      const was = this.connected;
      this.connected = false;
      if (was) o.onDisconnect();
      this.refresh();
    });
    this.cmd.on('error', (err: Error) => this.logError(err));
  }

  get isUp(): boolean {
    return this.connected && !this.breaker.isOpen;
  }

  get isConnected(): boolean {
    return this.connected && this.cmd.status === 'ready';
  }

  /** The group's entries (see lua.ts for the layout). */
  entriesKey(group: string): string {
    return `${this.ns}:{${group}}:e`;
  }

  /** The group's coordination state: gen, holds, registrations (see lua.ts). */
  stateKey(group: string): string {
    return `${this.ns}:{${group}}:m`;
  }

  /**
   * Runs one Redis call through the breaker. `essential` calls (invalidations, acks, replays) skip an
   * open breaker, because losing them costs correctness or forces writers to wait out leases, and they
   * are rare; they still feed the breaker with their outcome.
   */
  async call<T>(fn: (r: ScriptedRedis) => Promise<T>, essential = false): Promise<T> {
    if (!this.connected || this.cmd.status !== 'ready') throw NOT_CONNECTED;
    if (!essential && !this.breaker.allow()) throw BREAKER_OPEN;
    try {
      const v = await this.deadlines.track(fn(this.cmd));
      this.breaker.success();
      return v;
    } catch (err) {
      this.breaker.failure();
      throw err;
    }
  }

  /** The L2 read: one plain HGET (see lua.ts for why no script). */
  read(group: string, field: string): Promise<Buffer | null> {
    return this.call((r) => r.hgetBuffer(this.entriesKey(group), field));
  }

  /** What a load must record before it starts: the group's gen, the epoch, Redis time. */
  async head(group: string): Promise<HeadReply> {
    const [gen, epoch, now, held] = await this.call((r) => r.cgHead(this.stateKey(group), this.epochKey));
    return { gen: Number(gen), epoch: Number(epoch), now: Number(now), held: Number(held) > 0 };
  }

  /**
   * CAS fill of an entry encoded with a.gen, a.epoch and a.loadStartMs (see lua.ts).
   * Returns 1 stored, 0 refused (gen/epoch moved), -1 refused (load too old).
   */
  async fill(
    group: string,
    field: string,
    a: { gen: number; epoch: number; loadStartMs: number; maxAgeMs: number; ttlMs: number; genTtlMs: number },
    entry: Buffer,
  ): Promise<{ status: number; now: number }> {
    const [status, now] = await this.call((r) =>
      r.cgFill(
        this.entriesKey(group),
        this.stateKey(group),
        this.epochKey,
        field,
        a.gen,
        a.epoch,
        a.loadStartMs,
        a.maxAgeMs,
        a.ttlMs,
        a.genTtlMs,
        entry,
      ),
    );
    return { status: Number(status), now: Number(now) };
  }

  /** Registers the instance's interest in the group for ttlMs; returns the group's gen (see lua.ts). */
  async register(group: string, instanceId: string, ttlMs: number): Promise<number> {
    return Number(await this.call((r) => r.cgRegister(this.stateKey(group), instanceId, ttlMs)));
  }

  /**
   * The scripts below publish `message` to `inboxPrefix + id` of every live instance but `sender` that
   * is interested in one of the groups (every live one for clear), and return those instances.
   */
  async invalidate(groups: readonly string[], inbox: Addressing, genTtlMs: number): Promise<RegistryReply> {
    const keys = this.invalidationKeys(groups);
    const reply = await this.call((r) => r.cgInvalidate(keys.length, ...keys, inbox.prefix, inbox.message, inbox.sender, genTtlMs), true);
    return parseRegistry(reply);
  }

  async hold(groups: readonly string[], inbox: Addressing, genTtlMs: number, holdId: string, holdMs: number): Promise<RegistryReply> {
    const keys = this.invalidationKeys(groups);
    const reply = await this.call(
      (r) => r.cgHold(keys.length, ...keys, inbox.prefix, inbox.message, inbox.sender, genTtlMs, holdId, holdMs),
      true,
    );
    return parseRegistry(reply);
  }

  /** KEYS of the invalidate and hold scripts: registry, sequence, then (state, entries) per group. */
  private invalidationKeys(groups: readonly string[]): string[] {
    const keys: string[] = [this.registryKey, this.seqKey];
    for (const g of groups) keys.push(this.stateKey(g), this.entriesKey(g));
    return keys;
  }

  async release(groups: readonly string[], holdId: string): Promise<void> {
    const keys = groups.map((g) => this.stateKey(g));
    await this.call((r) => r.cgRelease(keys.length, ...keys, holdId), true);
  }

  async clear(inbox: Addressing): Promise<RegistryReply> {
    const reply = await this.call((r) => r.cgClear(this.registryKey, this.epochKey, inbox.prefix, inbox.message, inbox.sender), true);
    return parseRegistry(reply);
  }

  async renew(id: string, leaseMs: number, channel: string, payload: string): Promise<number> {
    return Number(await this.call((r) => r.cgRenew(this.registryKey, id, leaseMs, channel, payload)));
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.call((r) => r.publish(channel, message), true);
  }

  async unregister(id: string): Promise<void> {
    await this.call((r) => r.zrem(this.registryKey, id), true);
  }

  /**
   * Reclaims the memory of every group's entries (SCAN + UNLINK, never KEYS: KEYS blocks the server
   * for the whole keyspace). Only entries hashes (`ns:{group}:e`): state hashes are small, expire on
   * their own, and must stay — a hold swept away mid-write would let a load read before the write's
   * commit be stored, and a registration swept away would keep a later write from telling an
   * instance that registered before it.
   */
  async sweep(): Promise<number> {
    const pattern = `${escapeGlob(this.ns)}:{*}:e`;
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await this.call((r) => r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000), true);
      cursor = next;
      if (keys.length > 0) removed += await this.call((r) => r.unlink(...keys), true);
    } while (cursor !== '0');
    return removed;
  }

  close(): void {
    this.cmd.disconnect();
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

function parseRegistry(reply: [number, ...string[]]): RegistryReply {
  const now = Number(reply[0]);
  const live = new Map<string, number>();
  for (let i = 1; i + 1 < reply.length; i += 2) live.set(String(reply[i]), Number(reply[i + 1]));
  return { now, live };
}

export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
