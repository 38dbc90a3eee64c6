import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterEach } from 'vitest';
import { createEngine, type BatchLoader, type Codec, type Engine, type EngineOptions, type Loaded, type PublishOptions, type PublishReport } from '../../../src/cache/engine/index.js';
import { SHARED_REDIS_URL, TestRedis } from '../../helpers/redis.js';

export const silent: Logger = pino({ level: 'silent' });

/** The tests' codec: JSON of a string (decode refuses anything else, as a real codec refuses garbage). */
export const jsonString: Codec<string> = {
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (bytes) => {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof v !== 'string') throw new TypeError('not a JSON string');
    return v;
  },
};

export const KIND = 'note';
export const KINDS = { [KIND]: jsonString, other: jsonString } as Record<string, Codec<unknown>>;

let nsCounter = 0;
export function uniqueNamespace(): string {
  return `cgtest:eng:${process.pid}x${++nsCounter}x${Date.now().toString(36)}`;
}

export type MakeOptions = Partial<EngineOptions> & { redisUrl?: string };

/**
 * Engines made by a test file, closed (and their keys in the shared Redis removed) after each test.
 * Defaults are generous for tests of logic, so that a loaded machine cannot fail them through a
 * timeout; the fault tests set short values of their own.
 */
export class Engines {
  private readonly all: Engine[] = [];
  private readonly sharedNamespaces = new Set<string>();

  constructor() {
    afterEach(() => this.closeAll());
  }

  make(opts: MakeOptions = {}): Engine {
    const { redisUrl, ...rest } = opts;
    const namespace = rest.namespace ?? uniqueNamespace();
    if (redisUrl === SHARED_REDIS_URL) this.sharedNamespaces.add(namespace);
    const e = createEngine({
      name: `e${this.all.length}`,
      kinds: KINDS,
      l1MaxBytes: 1 << 20,
      ttlMs: 60_000,
      logger: silent,
      redisTimeoutMs: 500,
      leaseMs: 1500,
      ackTimeoutMs: 1000,
      breakerCooldownMs: 200,
      ...(redisUrl === undefined ? {} : { redis: { url: redisUrl } }),
      ...rest,
      namespace,
    });
    this.all.push(e);
    return e;
  }

  /** Two coherent engines on the shared Redis in a namespace of their own. */
  async sharedPair(extra: MakeOptions = {}, extraB: MakeOptions = {}): Promise<{ a: Engine; b: Engine; namespace: string }> {
    const namespace = uniqueNamespace();
    const a = this.make({ name: 'a', redisUrl: SHARED_REDIS_URL, ...extra, namespace });
    const b = this.make({ name: 'b', redisUrl: SHARED_REDIS_URL, ...extra, ...extraB, namespace });
    await Promise.all([a.ready(), b.ready()]);
    return { a, b, namespace };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((e) => e.close()));
    if (this.sharedNamespaces.size === 0) return;
    const plain = sharedClient();
    try {
      for (const ns of this.sharedNamespaces) await dropNamespace(plain, ns);
    } finally {
      plain.disconnect();
      this.sharedNamespaces.clear();
    }
  }
}

/** A plain client to the shared Redis (to look at keys); the caller disconnects it. */
export function sharedClient(): Redis {
  return new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
}

async function dropNamespace(r: Redis, ns: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${ns.replace(/[*?[\]\\]/g, '\\$&')}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await r.unlink(...keys);
  } while (cursor !== '0');
}

/** Keys of the pieces (not the coordination keys) in a namespace. */
export async function pieceKeys(r: Redis, ns: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${ns}:{*}`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys.filter((k) => !k.startsWith(`${ns}:{coord}`)));
  } while (cursor !== '0');
  return out;
}

/** A piece as Redis holds it (the fields of remote/scripts.ts), or undefined when absent. */
export async function storedPiece(r: Redis, ns: string, id: string, kind = KIND): Promise<{ v: number; t: number; d: Buffer } | undefined> {
  const [v, t, d] = await r.hmgetBuffer(`${ns}:{${kind}:${id}}`, 'v', 't', 'd');
  if (!v || !t || !d) return undefined;
  return { v: Number(v.toString()), t: Number(t.toString()), d };
}

export async function redisNowMs(r: Redis): Promise<number> {
  const [s, us] = await r.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/**
 * The tests' source of truth ("the database"): rows of id -> (version, value), and batch loaders over
 * them that count their calls. A row absent means the piece does not exist (left out of the answer).
 */
export class Source {
  private readonly rows = new Map<string, Loaded<string>>();
  /** Ids of every loader call, in order. */
  readonly calls: string[][] = [];

  set(id: string, version: number, value: string | null): void {
    this.rows.set(id, { version, value });
  }

  delete(id: string): void {
    this.rows.delete(id);
  }

  get loads(): number {
    return this.calls.length;
  }

  private read(ids: string[]): Map<string, Loaded<string>> {
    this.calls.push([...ids]);
    const out = new Map<string, Loaded<string>>();
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r !== undefined) out.set(id, { ...r });
    }
    return out;
  }

  readonly loader: BatchLoader<string> = async (ids) => this.read(ids);

  /**
   * A loader that reads the rows when it is called (a query that has run) and answers only when
   * released: a load in flight that a test can hold while writes happen.
   */
  held(): { loader: BatchLoader<string>; started: Promise<string[]>; release: () => void } {
    let release!: () => void;
    let markStarted!: (ids: string[]) => void;
    const gate = new Promise<void>((r) => (release = r));
    const started = new Promise<string[]>((r) => (markStarted = r));
    return {
      loader: async (ids) => {
        const snapshot = this.read(ids);
        markStarted(ids);
        await gate;
        return snapshot;
      },
      started,
      release,
    };
  }

  /** The write: the row changes at its new version, then the engine publishes it. */
  write(engine: Engine, id: string, version: number, value: string | null, opts?: PublishOptions): Promise<PublishReport> {
    this.set(id, version, value);
    return engine.publish([{ kind: KIND, id, version, value }], opts);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Rejects if `p` has not settled within `ms` (a call that would hang if the engine misbehaved). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** One value of a getMany answer, as [version, value, source]. */
export async function readOne(e: Engine, id: string, loader: BatchLoader<string>, opts?: { fresh?: boolean }): Promise<[number, string | null, string] | undefined> {
  const r = (await e.getMany<string>(KIND, [id], loader, opts)).get(id);
  return r === undefined ? undefined : [r.entry.version, r.entry.value, r.source];
}

/** peek() as [version, value], or undefined. */
export function peekOne(e: Engine, id: string): [number, string | null] | undefined {
  const p = e.peek<string>(KIND, id);
  return p === undefined ? undefined : [p.version, p.value];
}

/**
 * For a test file whose tests stop, pause or kill Redis: each test gets its own redis-server (stopped
 * after it), and plain clients on it that are disconnected after it.
 */
export function useOwnRedis(): { start: () => Promise<{ redis: TestRedis; plain: Redis }>; cleanup: (fn: () => Promise<void> | void) => void } {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return {
    async start() {
      const redis = await TestRedis.start();
      const plain = redis.client();
      cleanups.push(
        () => redis.stop(),
        () => plain.disconnect(),
      );
      return { redis, plain };
    },
    cleanup: (fn) => cleanups.push(fn),
  };
}
