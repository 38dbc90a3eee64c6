import http from 'node:http';

/**
 * A small HTTP client for the tests, the benchmarks and the checkers: JSON in and out, a bearer token,
 * keep-alive connections. Built on node:http rather than fetch because its cost per request is lower
 * and steadier, which the benchmarks' latencies include.
 */
export interface HttpResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed when the answer says it is JSON (throws if it is not); undefined otherwise. */
  body: T;
  text: string;
  /** performance.now() just before the request was handed to the socket layer… */
  sentAt: number;
  /** …and once the whole body had been read: the server's work lies between the two. */
  doneAt: number;
}

export interface RequestOptions {
  token?: string | undefined;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is, as `application/json` unless `headers` say otherwise (for malformed JSON tests). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface HttpClientOptions {
  /** Longest wait for a whole answer; past it the request fails (default: no limit). */
  timeoutMs?: number;
}

/**
 * The headers and the parsed body are made when first read: a benchmark's timed loop that reads
 * neither does not pay for them. A body that says it is JSON and is not throws when it is read.
 */
function answer<T>(what: string, res: http.IncomingMessage, text: string, sentAt: number, doneAt: number): HttpResponse<T> {
  let headers: Headers | undefined;
  let parsed: { body: T } | undefined;
  const status = res.statusCode ?? 0;
  return {
    status,
    text,
    sentAt,
    doneAt,
    get headers() {
      if (!headers) {
        headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      }
      return headers;
    },
    get body() {
      if (!parsed) {
        const json = text.length > 0 && (res.headers['content-type'] ?? '').includes('json');
        try {
          parsed = { body: (json ? JSON.parse(text) : undefined) as T };
        } catch {
          throw new Error(`${what}: ${status} with a body that is not JSON: ${text.slice(0, 200)}`);
        }
      }
      return parsed.body;
    },
  };
}

/** One pool of keep-alive connections for every client of the process (idle ones do not keep it alive). */
const agent = new http.Agent({ keepAlive: true });

export class HttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly options: HttpClientOptions = {},
  ) {}

  /** Resolves with any status; rejects when no answer came (connection refused or reset, timeout). */
  request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: Buffer | undefined;
    if (opts.rawBody !== undefined) {
      payload = Buffer.from(opts.rawBody);
      headers['content-type'] ??= 'application/json';
    } else if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['content-type'] = 'application/json';
    }
    // Always framed: node:http adds a Content-Length on its own for some methods only.
    if (payload) headers['content-length'] = String(payload.length);
    // Percent-encoded as fetch would (WHATWG URL): tests send unicode in queries.
    const url = new URL(this.baseUrl + path);
    return new Promise<HttpResponse<T>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const sentAt = performance.now();
      const req = http.request(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const doneAt = performance.now();
          clearTimeout(timer);
          resolve(answer<T>(`${method} ${path}`, res, Buffer.concat(chunks).toString('utf8'), sentAt, doneAt));
        });
      });
      const ms = this.options.timeoutMs;
      if (ms) timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer within ${ms} ms`)), ms);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  }

  get<T = any>(path: string, token?: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, { token, ...(headers ? { headers } : {}) });
  }
  post<T = any>(path: string, token: string | undefined, body?: unknown) {
    return this.request<T>('POST', path, { token, body });
  }
  patch<T = any>(path: string, token: string | undefined, body?: unknown) {
    return this.request<T>('PATCH', path, { token, body });
  }
  delete<T = any>(path: string, token?: string) {
    return this.request<T>('DELETE', path, { token });
  }
}
