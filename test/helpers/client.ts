// Tests call the harness's HTTP client `ApiClient`.
export { HttpClient as ApiClient, type HttpResponse as ApiResponse, type RequestOptions } from '../../support/http-client.js';
