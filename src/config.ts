import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

/**
 * Configuration is read once, here, from the environment; validated; then passed down typed.
 * Nothing else in the code reads `process.env`.
 */
const Env = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ default: './data' }),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DB_POOL_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: '^[^,:\\s]+:[0-9]{1,5}(,[^,:\\s]+:[0-9]{1,5})*$' })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  JWT_TTL_SECONDS: Type.Integer({ minimum: 60, default: 7 * 24 * 3600 }),
  CACHE_ENABLED: Type.Boolean({ default: true }),
  CACHE_TTL_SECONDS: Type.Integer({ minimum: 0, default: 86_400 }),
  CACHE_L1_MAX_BYTES: Type.Integer({ minimum: 1024, default: 134_217_728 }),
  CACHE_NAMESPACE: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$', default: 'chatgate' }),
  CACHE_MODE: Type.Union([Type.Literal('fresh'), Type.Literal('fast')], { default: 'fresh' }),
  CACHE_REDIS_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 50 }),
  CACHE_LEASE_MS: Type.Integer({ minimum: 100, default: 2000 }),
  CACHE_OUTBOX_REPLAY_AFTER_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  CACHE_COMPRESS_MIN_BYTES: Type.Integer({ minimum: 0, default: 512 }),
  CACHE_WARMUP_USERS: Type.Integer({ minimum: 0, default: 1000 }),
  CACHE_WARMUP_MAX_MS: Type.Integer({ minimum: 0, default: 2000 }),
  STREAM_MAX_CONNECTIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  STREAM_MAX_BUFFERED_BYTES: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  STREAM_PING_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  STREAM_AUTH_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5_000 }),
  ADMIN_USERNAMES: Type.String({ default: '' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 0, default: 6000 }),
  DEMO_SEED: Type.Boolean({ default: true }),
  SHUTDOWN_DELAY_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 0 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** PostgreSQL pool per instance; a request that waits longer than the timeout for a connection gets a 503. */
  dbPool: { max: number; timeoutMs: number };
  redisUrl: string | undefined;
  /** Where Redis is: REDIS_URL (one server) or REDIS_CLUSTER_NODES (seed nodes of a Redis Cluster). */
  redis: { url: string } | { cluster: Array<{ host: string; port: number }> } | undefined;
  jwtSecret: string | undefined;
  jwtTtlSeconds: number;
  cache: {
    enabled: boolean;
    ttlSeconds: number;
    l1MaxBytes: number;
    /** Prefix of Redis keys and channels: instances of one service share it. */
    namespace: string;
    mode: 'fresh' | 'fast';
    redisTimeoutMs: number;
    leaseMs: number;
    warmupUsers: number;
    warmupMaxMs: number;
    /** An outbox row older than this belongs to a process that died before publishing: replay it. */
    outboxReplayAfterMs: number;
    /** Values stored in Redis at least this long are deflated; 0: never. */
    compressMinBytes: number;
  };
  /** The live-updates stream (GET /api/v1/stream). */
  stream: {
    maxConnectionsPerUser: number;
    /** A client whose unsent frames pass this many bytes is closed (it resumes from its position). */
    maxBufferedBytes: number;
    /** WebSocket ping interval; a peer that has not answered the previous ping is dropped. */
    pingMs: number;
    /** How long an unauthenticated connection may wait before its auth frame. */
    authTimeoutMs: number;
  };
  adminUsernames: ReadonlySet<string>;
  logLevel: string;
  /** Requests per minute per user (per IP when anonymous); 0 disables the limit. */
  rateLimitPerMinute: number;
  /** Seed demo users and conversations into an empty embedded database. */
  demoSeed: boolean;
  /** SIGTERM/SIGINT: how long /ready answers 503 before the listener closes, then how long the rest may take. */
  shutdown: { delayMs: number; graceMs: number };
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(Env.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  // Convert strings to the declared types ("false" → false, "0" → 0), then apply defaults, then check.
  const converted = Value.Default(Env, Value.Convert(Env, raw));
  if (!Value.Check(Env, converted)) {
    const problems = [...Value.Errors(Env, converted)].map(
      (e) => `${(e as { instancePath?: string }).instancePath ?? ''} ${e.message}`,
    );
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = converted as Static<typeof Env>;
  if (e.REDIS_URL !== undefined && e.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError('invalid configuration: set REDIS_URL or REDIS_CLUSTER_NODES, not both');
  }
  const redis =
    e.REDIS_CLUSTER_NODES !== undefined
      ? {
          cluster: e.REDIS_CLUSTER_NODES.split(',').map((n) => {
            const at = n.lastIndexOf(':');
            return { host: n.slice(0, at), port: Number(n.slice(at + 1)) };
          }),
        }
      : e.REDIS_URL !== undefined
        ? { url: e.REDIS_URL }
        : undefined;
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    dbPool: { max: e.DB_POOL_MAX, timeoutMs: e.DB_POOL_TIMEOUT_MS },
    redisUrl: e.REDIS_URL,
    redis,
    jwtSecret: e.JWT_SECRET,
    jwtTtlSeconds: e.JWT_TTL_SECONDS,
    cache: {
      enabled: e.CACHE_ENABLED,
      ttlSeconds: e.CACHE_TTL_SECONDS,
      l1MaxBytes: e.CACHE_L1_MAX_BYTES,
      namespace: e.CACHE_NAMESPACE,
      mode: e.CACHE_MODE,
      redisTimeoutMs: e.CACHE_REDIS_TIMEOUT_MS,
      leaseMs: e.CACHE_LEASE_MS,
      warmupUsers: e.CACHE_WARMUP_USERS,
      warmupMaxMs: e.CACHE_WARMUP_MAX_MS,
      outboxReplayAfterMs: e.CACHE_OUTBOX_REPLAY_AFTER_MS,
      compressMinBytes: e.CACHE_COMPRESS_MIN_BYTES,
    },
    stream: {
      maxConnectionsPerUser: e.STREAM_MAX_CONNECTIONS_PER_USER,
      maxBufferedBytes: e.STREAM_MAX_BUFFERED_BYTES,
      pingMs: e.STREAM_PING_MS,
      authTimeoutMs: e.STREAM_AUTH_TIMEOUT_MS,
    },
    adminUsernames: new Set(
      e.ADMIN_USERNAMES.split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
    logLevel: e.LOG_LEVEL,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    demoSeed: e.DEMO_SEED,
    shutdown: { delayMs: e.SHUTDOWN_DELAY_MS, graceMs: e.SHUTDOWN_GRACE_MS },
  };
}
