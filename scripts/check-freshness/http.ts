import { HttpClient } from '../../support/http-client.js';

/**
 * A request's answer with its window: `sentAt` is taken before the request is handed to the socket
 * layer (it cannot reach the server earlier), `doneAt` once the whole body has been read (the server
 * had finished before). Both are performance.now() of this process, which also runs the gateways: the
 * windows of writes and reads are comparable without clock skew.
 */
export interface TimedResponse {
  /** 0 when no answer came (network error, timeout); `error` says why. */
  status: number;
  text: string;
  body: any;
  headers: Headers | undefined;
  sentAt: number;
  doneAt: number;
  error?: string;
}

/** The harness's client, with a failure to answer recorded as status 0 instead of thrown. */
export class TimedClient {
  private readonly http: HttpClient;

  constructor(
    readonly baseUrl: string,
    timeoutMs = 30_000,
  ) {
    this.http = new HttpClient(baseUrl, { timeoutMs });
  }

  async request(method: string, path: string, token?: string, body?: unknown): Promise<TimedResponse> {
    const sentAt = performance.now();
    try {
      return await this.http.request(method, path, { token, body });
    } catch (err) {
      return { status: 0, text: '', body: undefined, headers: undefined, sentAt, doneAt: performance.now(), error: String(err) };
    }
  }
}
