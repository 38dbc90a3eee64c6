import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import createClient, { type Middleware } from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { components, paths } from '../../src/http/generated/openapi.js';
import { SETUP_TIMEOUT_MS, uniqueUsername } from '../helpers/fixtures.js';
import { BACKENDS, setupEnv } from '../helpers/gateway.js';

type Json = Record<string, any>;
type ConversationListItem = components['schemas']['ConversationListItem'];

/**
 * Object schemas without an `additionalProperties` of their own get `false`: an answer carrying a
 * field the document does not describe is a drift too (conversation items are built as JSON in SQL
 * and sent without the serialiser, which would otherwise drop such a field).
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = closed(v);
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/**
 * Checks every answer against the served document: its status must be documented for the operation,
 * and a JSON body must match that status's schema exactly. Counts the answers it has checked.
 */
function documentedAnswers(doc: Json): { middleware: Middleware; sent: () => number; checked: () => number } {
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  ajv.addSchema({ $id: 'openapi.json', components: closed(doc.components) });
  const validators = new Map<string, ValidateFunction>();
  let sent = 0;
  let checked = 0;
  const middleware: Middleware = {
    onRequest() {
      sent++;
      return undefined;
    },
    async onResponse({ request, response, schemaPath }) {
      const where = `${request.method} ${schemaPath} → ${response.status}`;
      const documented = doc.paths[schemaPath]?.[request.method.toLowerCase()]?.responses?.[String(response.status)];
      expect(documented, `${where} is not in the document`).toBeDefined();
      const schema = documented.content?.['application/json']?.schema;
      if (schema !== undefined) {
        expect(response.headers.get('content-type'), where).toMatch(/^application\/json/);
        let validate = validators.get(where);
        if (!validate) {
          const refs = JSON.parse(JSON.stringify(closed(schema)).replaceAll('"#/components/', '"openapi.json#/components/'));
          validate = ajv.compile(refs);
          validators.set(where, validate);
        }
        const body: unknown = await response.clone().json();
        expect(validate(body), `${where}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`).toBe(true);
      }
      checked++;
      return undefined;
    },
  };
  return { middleware, sent: () => sent, checked: () => checked };
}

/**
 * The main routes driven through the client generated from the served document (openapi-fetch over
 * src/http/generated/openapi.ts): a field the types lack fails the typecheck, an answer the document
 * does not describe fails here.
 */
describe.each(BACKENDS)('the typed client against a real server (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let answers: ReturnType<typeof documentedAnswers>;
  beforeAll(async () => {
    env = await setupEnv(backend);
    answers = documentedAnswers((await env.api.get('/openapi.json')).body);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const client = (token?: string, check = answers) => {
    const c = createClient<paths>({ baseUrl: env.gateway.url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    c.use(check.middleware);
    return c;
  };

  it('register, login, create a conversation, post, list, read history, mark read', async () => {
    const anonymous = client();
    const aliceName = uniqueUsername('ta');
    const registered = await anonymous.POST('/api/v1/auth/register', { body: { username: aliceName, password: 'password-123', displayName: 'Alice T.' } });
    expect(registered.response.status).toBe(201);
    const bobRegistered = await anonymous.POST('/api/v1/auth/register', { body: { username: uniqueUsername('tb'), password: 'password-123' } });
    const bob = bobRegistered.data!.data;

    const login = await anonymous.POST('/api/v1/auth/login', { body: { username: aliceName, password: 'password-123' } });
    expect(login.response.status).toBe(200);
    const alice = login.data!.data;
    expect(alice.user).toEqual(registered.data!.data.user);

    const asAlice = client(alice.token);
    const asBob = client(bob.token);
    const me = await asAlice.GET('/api/v1/auth/me');
    expect(me.data!.data).toMatchObject({ username: aliceName, displayName: 'Alice T.', avatar: null });

    const created = await asAlice.POST('/api/v1/conversations', { body: { type: 'group', title: 'Typed', memberIds: [bob.user.id] } });
    expect(created.response.status).toBe(201);
    const group: ConversationListItem = created.data!.data;
    expect(group).toMatchObject({ type: 'group', title: 'Typed', memberCount: 2, lastMessage: null, unreadCount: 0 });

    const posted = await asBob.POST('/api/v1/conversations/{id}/messages', { params: { path: { id: group.id } }, body: { content: 'hello, typed' } });
    expect(posted.response.status).toBe(201);
    const message = posted.data!.data;
    expect(message).toMatchObject({ conversationId: group.id, senderId: bob.user.id, content: 'hello, typed', replyToId: null, editedAt: null });

    const listed = await asAlice.GET('/api/v1/conversations', { params: { query: { limit: 10 } } });
    expect(listed.response.status).toBe(200);
    expect(listed.response.headers.get('x-cache')).toMatch(/^(HIT-L1|HIT-L2|MISS|BYPASS)$/);
    expect(listed.data!.pagination).toEqual({ offset: 0, limit: 10, total: 1, hasMore: false, nextCursor: null });
    const [item] = listed.data!.data;
    expect(item).toMatchObject({ id: group.id, unreadCount: 1, lastMessageAt: message.createdAt });
    expect(item!.lastMessage).toMatchObject({ id: message.id, content: 'hello, typed', sender: { id: bob.user.id } });

    const history = await asAlice.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: group.id }, query: { limit: 5 } } });
    expect(history.data!.data.map((m) => m.id)).toEqual([message.id]);
    expect(history.data!.pagination).toEqual({ limit: 5, hasMore: false, nextCursor: null });

    const read = await asAlice.POST('/api/v1/conversations/{id}/read', { params: { path: { id: group.id } }, body: { messageId: message.id } });
    expect(read.data!.data.unreadCount).toBe(0);
    const after = await asAlice.GET('/api/v1/conversations');
    expect(after.data!.data[0]).toMatchObject({ id: group.id, unreadCount: 0 });
    expect(after.data!.pagination.limit).toBe(20);
  });

  it('errors come back typed, in the documented error shape', async () => {
    const anonymous = client();
    const unauthenticated = await anonymous.GET('/api/v1/conversations');
    expect(unauthenticated.response.status).toBe(401);
    expect(unauthenticated.error?.error.code).toBe('UNAUTHORIZED');

    const reg = await anonymous.POST('/api/v1/auth/register', { body: { username: uniqueUsername('te'), password: 'password-123' } });
    const asUser = client(reg.data!.data.token);
    const missing = await asUser.GET('/api/v1/conversations/{id}', { params: { path: { id: '999999999999' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('NOT_FOUND');
    const invalid = await asUser.GET('/api/v1/conversations', { params: { query: { limit: 0 } } });
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.error.code).toBe('VALIDATION_ERROR');
  });

  it('checked every answer against the document', () => {
    expect(answers.sent()).toBeGreaterThanOrEqual(14);
    expect(answers.checked()).toBe(answers.sent());
  });

  it('an answer with a field the document does not describe fails the check', async () => {
    const doc: Json = (await env.api.get('/openapi.json')).body;
    delete doc.components.schemas.ConversationListItem.properties.unreadCount;
    doc.components.schemas.ConversationListItem.required = doc.components.schemas.ConversationListItem.required.filter((k: string) => k !== 'unreadCount');
    const reg = await client().POST('/api/v1/auth/register', { body: { username: uniqueUsername('td'), password: 'password-123' } });
    const user = reg.data!.data;
    await client(user.token).POST('/api/v1/conversations', { body: { type: 'public', title: 'Drift', memberIds: [] } });
    const drifted = client(user.token, documentedAnswers(doc));
    await expect(drifted.GET('/api/v1/conversations')).rejects.toThrow(/must NOT have additional properties/);
  });
});
