import { HttpClient, type HttpResponse, type RequestOptions } from '../../support/http-client.js';

// Tests call the harness's HTTP client `ApiClient`.
export { HttpClient as ApiClient, type HttpResponse as ApiResponse, type RequestOptions } from '../../support/http-client.js';

/**
 * One client over several instances of a service: each request goes to the next instance in turn, so
 * that a write on one is followed by a read on another (what an unsticky load balancer does).
 */
export class AlternatingClient extends HttpClient {
  private readonly clients: HttpClient[];
  private turn = 0;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new Error('AlternatingClient needs at least one instance');
    super(urls[0]!);
    this.clients = urls.map((u) => new HttpClient(u));
  }

  override request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse<T>> {
    const client = this.clients[this.turn++ % this.clients.length]!;
    return client.request<T>(method, path, opts);
  }
}
