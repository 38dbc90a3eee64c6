import type { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { pino, type Logger } from 'pino';
import { createCacheEngine, type CacheEngine, type CacheEngineOptions, type LoadedValue } from '../../../src/cache/engine/index.js';
import { TestRedis } from '../../helpers/redis.js';

export interface LogRecord {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A pino logger that keeps its records in memory (level 'debug' unless told). */
export function memoryLogger(level = 'debug'): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as LogRecord);
      cb();
    },
  });
  return { logger: pino({ level }, stream), records };
}

export const silent: Logger = pino({ level: 'silent' });

let nsCounter = 0;
export function uniqueNamespace(prefix = 'cgtest'): string {
  return `${prefix}${process.pid}x${++nsCounter}x${Date.now().toString(36)}`;
}

/** Tracks engines so that afterEach can close them all. */
export class Engines {
  private readonly all: CacheEngine[] = [];

  make(opts: Partial<CacheEngineOptions> & Pick<CacheEngineOptions, 'namespace'>): CacheEngine {
    const e = createCacheEngine({
      name: opts.name ?? `e${this.all.length}`,
      l1MaxBytes: 1 << 20,
      ttlMs: 60_000,
      logger: silent,
      // Generous for tests of logic, so that a loaded CI machine cannot fail them through a timeout;
      // the fault tests set short values of their own.
      redisTimeoutMs: 500,
      leaseMs: 1500,
      ackTimeoutMs: 1000,
      breakerCooldownMs: 200,
      ...opts,
    });
    this.all.push(e);
    return e;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((e) => e.close()));
  }
}

export function val(s: string, meta = `etag-${s}`): LoadedValue {
  return { value: Buffer.from(s), meta };
}

/** A loader that counts its calls and returns `current()` at call time. */
export function countingLoader(current: () => string): { load: () => Promise<LoadedValue>; calls: () => number } {
  let n = 0;
  return {
    load: async () => {
      n++;
      return val(current());
    },
    calls: () => n,
  };
}

/** A loader held on a promise: it reads `value` when called, returns only when released. */
export function heldLoader(value: string): {
  load: () => Promise<LoadedValue>;
  started: Promise<void>;
  release: () => void;
} {
  let release!: () => void;
  let markStarted!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const started = new Promise<void>((r) => (markStarted = r));
  return {
    load: async () => {
      markStarted();
      await gate;
      return val(value);
    },
    started,
    release,
  };
}

/**
 * Gets until the entry is in L1 and served by peek(): a loaded value enters L1 only once its L2
 * compare-and-set has answered, in the background, and only while the instance is coherent.
 */
export async function warm(e: CacheEngine, group: string, field: string, load: () => Promise<LoadedValue>): Promise<void> {
  await waitFor(
    async () => {
      if (e.peek(group, field) !== undefined) return true;
      await e.get(group, field, load);
      return e.peek(group, field) !== undefined;
    },
    5000,
    `L1 entry ${group}/${field}`,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function text(b: Buffer | undefined): string | undefined {
  return b === undefined ? undefined : b.toString('utf8');
}

/**
 * For a test file of engines on Redis: a private redis-server started before the file's tests, a plain
 * client on it (to look at keys), engines closed after each test, and `pair()`: two coherent engines
 * sharing a fresh namespace.
 */
export function useRedisEngines(): {
  redis: () => TestRedis;
  plain: () => Redis;
  engines: Engines;
  pair: (extra?: Partial<CacheEngineOptions>) => Promise<{ a: CacheEngine; b: CacheEngine; namespace: string }>;
} {
  let redis: TestRedis | undefined;
  let plain: Redis | undefined;
  const engines = new Engines();
  beforeAll(async () => {
    redis = await TestRedis.start();
    plain = redis.client();
  });
  afterEach(() => engines.closeAll());
  afterAll(async () => {
    plain?.disconnect();
    await redis?.stop();
  });
  const started = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('useRedisEngines: used before its beforeAll ran');
    return x;
  };
  return {
    redis: () => started(redis),
    plain: () => started(plain),
    engines,
    async pair(extra = {}) {
      const namespace = uniqueNamespace();
      const url = started(redis).url;
      const a = engines.make({ namespace, redisUrl: url, name: 'a', ...extra });
      const b = engines.make({ namespace, redisUrl: url, name: 'b', ...extra });
      await Promise.all([a.ready(), b.ready()]);
      return { a, b, namespace };
    },
  };
}
