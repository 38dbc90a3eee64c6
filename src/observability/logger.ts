import type { FastifyBaseLogger } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'chatgate' } });
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
