import type { FastifyBaseLogger } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'chatgate' } });
}

/** `token=` query values in a URL (the stream's login from a browser, which cannot send a header). */
const QUERY_TOKEN = /([?&]token=)[^&#]*/g;

export function withoutQueryToken(url: string): string {
  return url.includes('token=') ? url.replace(QUERY_TOKEN, '$1[redacted]') : url;
}

interface LoggedRequest {
  method: string;
  url: string;
  headers?: Record<string, string | string[] | undefined>;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * Fastify's own `req` serializer (the same fields), but the URL without its token: a request log
 * line must not hand a reader of the logs a working credential.
 */
export function requestLogFields(req: LoggedRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: withoutQueryToken(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

const METHODS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * A child logger made on its first use. Fastify asks for a child (bound to the request id) on every
 * request, and pino's child() serialises its bindings right away: a visible share of the cached list's
 * hit path in a CPU profile, spent even by requests that log nothing — every cache hit, since request
 * logs are at debug. For Fastify's `childLoggerFactory`.
 */
class LazyChildLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.real.level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}
for (const m of METHODS) {
  Object.defineProperty(LazyChildLogger.prototype, m, {
    value(this: LazyChildLogger, ...args: unknown[]) {
      return (this.real[m] as (...a: unknown[]) => void)(...args);
    },
  });
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
