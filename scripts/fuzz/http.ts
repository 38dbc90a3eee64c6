import http from 'node:http';
import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** What goes on the wire: the path is sent as it is (already percent-encoded, or deliberately not). */
export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
  /** Send the body in several chunks with `transfer-encoding: chunked` instead of a Content-Length. */
  chunked?: boolean | undefined;
  /**
   * A connection of its own, closed after the answer. For requests after which the server may close the
   * connection (a 413 is answered before the body has been read): on a shared keep-alive connection the
   * next request could race that close and fail on the client side.
   */
  fresh?: boolean | undefined;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  ms: number;
}

export type Outcome = { ok: true; res: WireResponse; ms?: undefined } | { ok: false; error: string; ms: number };

/** Bodies are read in full (swagger-ui's bundle is ~1.5 MB) but kept in memory only up to this size. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export class HttpSender {
  private readonly agent: http.Agent;

  constructor(
    private readonly host: string,
    private readonly port: number,
    maxSockets: number,
    private readonly timeoutMs = 20_000,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  send(req: WireRequest): Promise<Outcome> {
    const started = performance.now();
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const finish = (o: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const fail = (error: string) => finish({ ok: false, error, ms: performance.now() - started });
      // Node frames a body with Content-Length on its own only for some methods (not GET or DELETE, whose
      // body would go out unframed and be read as the next request): always say how the body is framed.
      const headers: Record<string, string> = { ...req.headers };
      if (req.body && req.chunked) headers['transfer-encoding'] = 'chunked';
      else if (req.body) headers['content-length'] = String(req.body.length);
      if (req.fresh) headers.connection = 'close';
      let cr: http.ClientRequest;
      try {
        cr = http.request({
          host: this.host,
          port: this.port,
          method: req.method,
          path: req.path,
          headers,
          agent: req.fresh ? false : this.agent,
          // Node's own header/path checks stay on: what they refuse cannot be sent by a Node client anyway,
          // and the raw-socket cases cover the protocol level.
        });
      } catch (err) {
        // A request Node itself refuses to build (invalid characters): not a server behaviour.
        return fail(`client refused: ${(err as Error).message}`);
      }
      const timer = setTimeout(() => {
        cr.destroy(new Error('timeout'));
        fail(`no answer within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
      cr.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < MAX_KEPT_BYTES) {
            chunks.push(c);
            kept += c.length;
          }
        });
        const done = () =>
          finish({
            ok: true,
            res: {
              status: res.statusCode ?? 0,
              headers: flatHeaders(res.headers),
              text: bodyText(Buffer.concat(chunks), res.headers['content-encoding']),
              ms: performance.now() - started,
            },
          });
        res.on('end', done);
        res.on('error', (err) => fail(`response error: ${err.message}`));
        res.on('aborted', () => fail('response aborted'));
      });
      cr.on('error', (err) => fail(`request error: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`));
      if (req.body && req.chunked) {
        const b = req.body;
        const step = Math.max(1, Math.ceil(b.length / 3));
        for (let i = 0; i < b.length; i += step) cr.write(b.subarray(i, i + step));
        cr.end();
      } else {
        cr.end(req.body);
      }
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Sends bytes as they are over a fresh TCP connection and parses the first HTTP response (for
 * requests that no HTTP client would build: broken request lines, bad header bytes, smuggling).
 */
export function sendRaw(host: string, port: number, bytes: Buffer, timeoutMs = 10_000): Promise<Outcome> {
  const started = performance.now();
  return new Promise<Outcome>((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect(port, host);
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const ms = performance.now() - started;
      const parsed = parseRawResponse(Buffer.concat(chunks));
      resolve(parsed ? { ok: true, res: { ...parsed, ms } } : { ok: false, error: chunks.length ? 'unparseable response' : 'connection closed without a response', ms });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // Done as soon as one complete response is there (the server may keep the connection open).
      if (parseRawResponse(Buffer.concat(chunks), true)) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(bytes);
  });
}

/** The first response in `buf`; with `needComplete`, undefined until its body has fully arrived. */
export function parseRawResponse(buf: Buffer, needComplete = false): Omit<WireResponse, 'ms'> | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const head = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(head[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let rest = buf.subarray(headEnd + 4);
  const status = Number(m[1]);
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (needComplete && rest.length < n) return undefined;
    rest = rest.subarray(0, n);
  } else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const out: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', pos);
      if (lineEnd < 0) {
        if (needComplete) return undefined;
        break;
      }
      const size = parseInt(rest.subarray(pos, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size)) break;
      if (size === 0) break;
      if (needComplete && rest.length < lineEnd + 2 + size) return undefined;
      out.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
    rest = Buffer.concat(out);
  } else if (needComplete && status !== 204 && status !== 304 && !(status >= 100 && status < 200)) {
    // Body delimited by the connection's end.
    return undefined;
  }
  return { status, headers, text: bodyText(rest, headers['content-encoding']) };
}

/**
 * The body as text, decoded as its Content-Encoding says (the list is sent gzipped to a client that
 * accepts it), so that every check reads what a client would. A body that does not decode is kept as
 * it came, and fails the checks as such.
 */
export function bodyText(body: Buffer, contentEncoding: string | undefined): string {
  if (contentEncoding?.trim().toLowerCase() === 'gzip' && body.length > 0) {
    try {
      return gunzipSync(body).toString('utf8');
    } catch {
      return body.toString('utf8');
    }
  }
  return body.toString('utf8');
}
