/**
 * A timed HTTP client over Node's fetch. Every request records `sentAt` (taken just before fetch is
 * called, so the request cannot reach the server earlier) and `doneAt` (taken after the whole body has
 * been read, so the server had finished before). Both are performance.now() of this process, which
 * also runs the gateways: the windows of writes and reads are comparable without clock skew.
 */
export interface TimedResponse {
  status: number;
  /** 0 when no response came (network error, timeout). */
  text: string;
  body: any;
  headers: Headers | undefined;
  sentAt: number;
  doneAt: number;
  error?: string;
}

export class TimedClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async request(method: string, path: string, token?: string, body?: unknown): Promise<TimedResponse> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const sentAt = performance.now();
    try {
      const res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      const doneAt = performance.now();
      let parsed: unknown;
      if (text.length > 0 && (res.headers.get('content-type') ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      return { status: res.status, text, body: parsed, headers: res.headers, sentAt, doneAt };
    } catch (err) {
      return { status: 0, text: '', body: undefined, headers: undefined, sentAt, doneAt: performance.now(), error: String(err) };
    }
  }
}
