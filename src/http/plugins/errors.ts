import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, ErrorCodes, type ErrorCode } from '../../errors.js';

interface ErrorReply {
  status: number;
  code: ErrorCode;
  message: string;
}

/**
 * The code a 4xx that Fastify or a plugin raised with a bare status is answered with: the code of that
 * status, or for statuses outside the contract the code of the nearest meaning.
 */
const BY_STATUS: Record<number, ErrorCode> = {
  ...Object.fromEntries(ERROR_CODES.map((code) => [ErrorCodes[code], code])),
  405: 'NOT_FOUND',
  415: 'VALIDATION_ERROR',
};

/** PostgreSQL error classes that mean "the database is away", not "the request is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0|57014|40001|40P01)/;
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

const answer = (code: ErrorCode, message: string): ErrorReply => ({ status: ErrorCodes[code], code, message });

export function classify(err: unknown): ErrorReply {
  if (err instanceof AppError) return answer(err.code, err.message);
  const e = err as Partial<FastifyError> & { code?: string; message?: string };
  if (e.validation) return answer('VALIDATION_ERROR', e.message ?? 'invalid request');
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return answer('PAYLOAD_TOO_LARGE', 'request body is too large');
  const sqlstate = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  if (sqlstate) {
    if (UNAVAILABLE_SQLSTATE.test(sqlstate)) return answer('UNAVAILABLE', 'database unavailable, retry');
    // Data exceptions and constraint violations come from input the schemas let through: a client error.
    if (sqlstate.startsWith('22')) return answer('VALIDATION_ERROR', 'invalid value');
    if (sqlstate === '23505') return answer('CONFLICT', 'already exists');
    if (sqlstate.startsWith('23')) return answer('VALIDATION_ERROR', 'invalid reference');
  }
  if ((e.code && NETWORK_ERRORS.has(e.code)) || /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '')) {
    return answer('UNAVAILABLE', 'database unavailable, retry');
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // A 4xx outside the contract's statuses (415 from Fastify's content-type check, 414, 416, ...): the
    // contract pairs each code with one status, so the answer takes the code's status.
    const message =
      e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported content-type: send application/json' : (e.message ?? 'bad request');
    return answer(BY_STATUS[status] ?? 'VALIDATION_ERROR', message);
  }
  return answer('INTERNAL', 'internal error');
}

const errorBody = (code: ErrorCode, message: string) => ({ success: false as const, error: { code, message } });

/**
 * Fastify's `frameworkErrors` option: a path with bad percent-encoding (`/conversations/%ZZ`) or a
 * path parameter over `maxParamLength` is answered before routing; by default in Fastify's own shape
 * (and a 414 for the latter). Both are malformed input: a 400 VALIDATION_ERROR in the contract's shape.
 */
export function frameworkErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === 'FST_ERR_BAD_URL'
      ? 'the URL is not valid (bad percent-encoding)'
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'a path parameter is too long'
        : undefined;
  const r = message ? answer('VALIDATION_ERROR', message) : classify(err);
  void reply.status(r.status).send(errorBody(r.code, r.message));
}

/**
 * Fastify's `clientErrorHandler` option: requests Node's HTTP parser refuses (a broken request line or
 * header, smuggling attempts with both Content-Length and Transfer-Encoding, headers over 16 KiB,
 * which a long URL reaches too). Answered in the contract's shape, and 400 for all (the contract has
 * no 431; nginx answers 400 there too).
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const message =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'request line and headers are too large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'request timed out'
        : 'malformed HTTP request';
  this.log.debug({ code: err.code }, 'client error');
  const body = JSON.stringify(errorBody('VALIDATION_ERROR', message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** Every error leaves in the contract's shape; a 5xx never carries a stack trace or SQL. */
export function installErrorHandling(app: FastifyInstance): void {
  // An HTTP/1.1 request without a Host header: Node's own check answers a bare 400 with no body, so it
  // is off (`http.requireHostHeader: false` in app.ts) and this one answers the same 400 in the
  // contract's shape. Callback style: it runs on every request.
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor === 1 && !req.headers.host) {
      done(new AppError('VALIDATION_ERROR', 'an HTTP/1.1 request needs a Host header'));
      return;
    }
    done();
  });
  app.setErrorHandler((err, request, reply) => {
    const r = classify(err);
    if (r.status >= 500) request.log.error({ err }, 'request failed');
    else if (r.status !== 404) request.log.debug({ code: r.code, msg: r.message }, 'request rejected');
    void reply.status(r.status).send(errorBody(r.code, r.message));
  });
  app.setNotFoundHandler((request, reply) => {
    const r = answer('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(r.status).send(errorBody(r.code, r.message));
  });
}
