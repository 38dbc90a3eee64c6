/**
 * Every error the API can answer with, by name, and the one HTTP status each goes with. Routes and
 * services throw `AppError`s; the HTTP layer maps them (and Fastify's own errors) to the contract's
 * error shape. This table is the only list of codes: the OpenAPI schema's enum, the HTTP layer's
 * status map and the fuzzer's oracle are derived from it.
 */
export const ErrorCodes = {
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** A position given to a changes feed is too old or unknown: the client must reload its list. */
  RESYNC_REQUIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export const ERROR_CODES = Object.keys(ErrorCodes) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCodes, value);
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ErrorCodes[code];
  }
}

export const validation = (message: string) => new AppError('VALIDATION_ERROR', message);
export const unauthorized = (message = 'authentication required') => new AppError('UNAUTHORIZED', message);
export const forbidden = (message: string) => new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string) => new AppError('CONFLICT', message);
export const resyncRequired = (message: string) => new AppError('RESYNC_REQUIRED', message);
export const unavailable = (message = 'service temporarily unavailable') => new AppError('UNAVAILABLE', message);
