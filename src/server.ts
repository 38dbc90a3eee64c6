import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createEngine, type Codec, type Engine } from './cache/engine/index.js';
import { ConversationListCache } from './conversation-list/cached-source.js';
import { PublicationOutbox } from './conversation-list/outbox.js';
import { sqlStateLoaders, type StateLoaders } from './conversation-list/loaders.js';
import { SqlConversationList } from './conversation-list/sql-source.js';
import { CONVERSATION, MEMBER, conversationCodec, memberCodec } from './conversation-list/state.js';
import type { ConversationListSource } from './conversation-list/source.js';
import { migrate, openDb, type Db } from './db/index.js';
import { createTokenService } from './domain/auth/tokens.js';
import { ConversationService } from './domain/conversations.js';
import { MessageService } from './domain/messages.js';
import { UserService } from './domain/users.js';
import { Writer } from './domain/writer.js';
import { buildHttpApp } from './http/app.js';
import type { HttpContext, PushContext } from './http/context.js';
import { changesSince } from './push/changes.js';
import { PushFeed } from './push/feed.js';
import { Hub } from './push/hub.js';
import { createLogger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { warmUp } from './conversation-list/warmup.js';
import { resolveJwtSecret } from './secrets.js';

export interface Gateway {
  config: Config;
  app: FastifyInstance;
  db: Db;
  writer: Writer;
  users: UserService;
  conversations: ConversationService;
  messages: MessageService;
  logger: Logger;
  /** Present when the cache is on, or when Redis is configured (invalidations are owed to other instances). */
  listCache: ConversationListCache | undefined;
  /**
   * Stops telling the list cache about writes (undefined without one). Only for the freshness
   * checker's self-test, which must catch an instance whose cache is never told; never undone.
   */
  detachListCache: (() => void) | undefined;
  engine: Engine | undefined;
  metrics: Metrics;
  /** Resolves when the background warm-up has finished (at once when there is none). */
  warmup: Promise<unknown>;
  /** From now on /ready answers 503 (draining) and every answer closes its connection. */
  drain(): void;
  /**
   * The graceful stop (SIGTERM, a rolling restart): drain, wait SHUTDOWN_DELAY_MS for load balancers
   * to notice, then close.
   */
  shutdown(): Promise<void>;
  /**
   * Stops accepting, waits for the requests in flight (and so for their writes' post-commit work:
   * a write answers only after it), closes the streams with 1001, then the bus, Redis and the database.
   */
  close(): Promise<void>;
}

export interface GatewayOptions {
  logger?: Logger;
  /**
   * Wraps the loaders of the cached list's state. A seam for tests that need a load to be slow at a
   * chosen moment (the stale-fill race over HTTP); not used in production.
   */
  wrapStateLoaders?: (loaders: StateLoaders) => StateLoaders;
}

/** The composition root: builds every part from the config, wires them, and returns the app (not listening). */
export async function createGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, pool: config.dbPool }, (err) =>
    logger.warn({ err: err.message }, 'database connection error'),
  );
  await migrate(db);
  const tokens = createTokenService(await resolveJwtSecret(config), config.jwtTtlSeconds);
  const writer = new Writer(db);
  const users = new UserService(db, writer, tokens, config.adminUsernames);
  const conversations = new ConversationService(db, writer);
  const messages = new MessageService(db, writer);
  const sqlList: ConversationListSource = new SqlConversationList(db);

  // The cache serves reads only when enabled with a TTL; but with Redis configured this instance still
  // owes every other instance the new versions of what it writes, so the engine exists whenever either is true.
  const cacheServes = config.cache.enabled && config.cache.ttlSeconds > 0;
  let engine: Engine | undefined;
  let listCache: ConversationListCache | undefined;
  let outbox: PublicationOutbox | undefined;
  let detachListCache: (() => void) | undefined;
  if (cacheServes || config.redis) {
    // Half of the memory budget for the pieces lists are composed from, half for composed pages.
    const pieceBytes = Math.floor(config.cache.l1MaxBytes / 2);
    engine = createEngine({
      name: 'conversations-list',
      namespace: `${config.cache.namespace}:cl5`,
      kinds: { [CONVERSATION]: conversationCodec, [MEMBER]: memberCodec } as Record<string, Codec<unknown>>,
      redis: config.redis,
      l1MaxBytes: pieceBytes,
      ttlMs: Math.max(config.cache.ttlSeconds, 1) * 1000,
      mode: config.cache.mode,
      redisTimeoutMs: config.cache.redisTimeoutMs,
      leaseMs: config.cache.leaseMs,
      compressMinBytes: config.cache.compressMinBytes,
      logger: logger.child({ component: 'cache' }),
    });
    // The outbox repairs what a crash leaves in Redis; memory only, a crash takes the cache with it.
    if (config.redis) outbox = new PublicationOutbox(db, logger.child({ component: 'cache-outbox' }), config.cache.outboxReplayAfterMs);
    const loaders = opts.wrapStateLoaders ? opts.wrapStateLoaders(sqlStateLoaders(db)) : sqlStateLoaders(db);
    listCache = new ConversationListCache(engine, db, loaders, sqlList, outbox, logger.child({ component: 'conversation-list-cache' }), config.cache.l1MaxBytes - pieceBytes);
    detachListCache = writer.subscribe(listCache);
    const cache = listCache;
    outbox?.start((owed) => cache.republish(owed));
  }
  const conversationList: ConversationListSource = cacheServes && listCache ? listCache : sqlList;

  // Live updates: pushed from the same publications that keep the cache (src/push).
  let push: PushContext | undefined;
  let feed: PushFeed | undefined;
  if (engine && listCache) {
    const eng = engine;
    const cache = listCache;
    const hub = new Hub({
      maxPerUser: config.stream.maxConnectionsPerUser,
      maxBufferedBytes: config.stream.maxBufferedBytes,
      onActive: (active) => eng.wantSettlements(active),
    });
    const f = new PushFeed(eng, cache, hub, logger.child({ component: 'push' }));
    feed = f;
    push = {
      hub,
      async follow(userId) {
        await f.track(userId);
        const head = await eng.journalHead();
        if (head === undefined) throw new Error('the journal cannot be read now');
        return head;
      },
      changes: (userId, since, limit) => changesSince(eng, cache, userId, since, limit),
    };
  }

  const metrics = createMetrics();
  if (engine && listCache) {
    const cache = listCache;
    metrics.attachCache(engine, () => cache.served());
  }

  // Warm-up runs in the background; /ready waits for it, but never longer than its bound.
  let closing = false;
  let draining = false;
  let warmupDone = !(cacheServes && listCache && config.cache.warmupUsers > 0);
  const warmupBound = performance.now() + config.cache.warmupMaxMs;
  const warmup = warmupDone
    ? Promise.resolve()
    : warmUp(db, conversationList, logger, { users: config.cache.warmupUsers, stopped: () => closing })
        .catch((err) => logger.warn({ err: String(err) }, '[CACHE-WARMUP] failed'))
        .finally(() => (warmupDone = true));

  const ctx: HttpContext = {
    config,
    logger,
    tokens,
    users,
    conversations,
    messages,
    conversationList,
    cacheAdmin: listCache,
    push,
    async dbReady() {
      try {
        await Promise.race([db.query('SELECT 1'), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 1000).unref())]);
        return true;
      } catch {
        return false;
      }
    },
    redisState: () => engine?.stats().redis ?? 'disabled',
    warmupState: () => (warmupDone || performance.now() > warmupBound ? 'done' : 'warming'),
    draining: () => draining,
    metrics,
  };
  const app = await buildHttpApp(ctx);

  const gateway: Gateway = {
    config,
    app,
    db,
    writer,
    users,
    conversations,
    messages,
    logger,
    listCache,
    detachListCache,
    engine,
    metrics,
    warmup,
    drain() {
      draining = true;
    },
    async shutdown() {
      draining = true;
      if (config.shutdown.delayMs > 0) await new Promise((r) => setTimeout(r, config.shutdown.delayMs));
      await gateway.close();
    },
    async close() {
      closing = true;
      draining = true;
      await app.close();
      feed?.close();
      await warmup;
      await outbox?.stop();
      await engine?.close();
      await db.close();
    },
  };
  return gateway;
}
