// @ts-check
/**
 * The gateway's public API through openapi-fetch, typed by the types generated from the served OpenAPI
 * document (src/http/generated/openapi.ts): `npm test` type-checks this client against them, so a
 * route or a field the document no longer has fails the build (tsconfig.app.json).
 */
import createClient from 'openapi-fetch';

/** @typedef {import('../../src/http/generated/openapi.js').paths} paths */
/** @typedef {import('../../src/http/generated/openapi.js').components['schemas']} Schemas */
/** @typedef {Schemas['ConversationListItem']} ConversationListItem */
/** @typedef {Schemas['Message']} Message */
/** @typedef {Schemas['User']} User */
/** @typedef {Schemas['ErrorBody']} ErrorBody */
/** @typedef {{ user: User, token: string }} Session */

/** Ids are decimal strings: the longer is the greater, then as text. */
export function compareIds(/** @type {string} */ a, /** @type {string} */ b) {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** An answer that is not 2xx, with the contract's error code. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {string | undefined} */
let bearer;

/** The token sent with every request from now on (undefined: none). */
export function useToken(/** @type {string | undefined} */ token) {
  bearer = token;
}

export const api = /** @type {typeof createClient<paths>} */ (createClient)({ baseUrl: location.origin });
api.use({
  onRequest({ request }) {
    if (bearer !== undefined) request.headers.set('authorization', `Bearer ${bearer}`);
    return request;
  },
});

/**
 * The `data` of a success envelope, or an ApiError.
 * @template T
 * @param {Promise<{ data?: { data: T }, error?: ErrorBody, response: Response }>} call
 * @returns {Promise<T>}
 */
export async function unwrap(call) {
  const { data, error, response } = await call;
  if (data !== undefined) return data.data;
  throw new ApiError(response.status, error?.error.code ?? 'HTTP_ERROR', error?.error.message ?? response.statusText);
}
