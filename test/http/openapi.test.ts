import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLintProblems, lintOpenApi } from '../../scripts/openapi/lint.js';
import { API_TYPES_FILE, generateApiTypes } from '../../scripts/openapi/types.js';
import { ERROR_CODES } from '../../src/errors.js';
import { SETUP_TIMEOUT_MS } from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/** Each operation's id: clients generated from the document name their calls after them, so they do not change. */
const OPERATION_IDS: Record<string, string> = {
  'get /metrics': 'metrics',
  'get /health': 'health',
  'get /ready': 'ready',
  'post /api/v1/auth/register': 'register',
  'post /api/v1/auth/login': 'login',
  'get /api/v1/auth/me': 'getMe',
  'patch /api/v1/users/me': 'updateMe',
  'get /api/v1/users/{idOrUsername}': 'getUser',
  'get /api/v1/conversations': 'listConversations',
  'get /api/v1/conversations/changes': 'listConversationChanges',
  'get /api/v1/stream': 'openStream',
  'post /api/v1/conversations': 'createConversation',
  'get /api/v1/conversations/{id}': 'getConversation',
  'patch /api/v1/conversations/{id}': 'updateConversation',
  'delete /api/v1/conversations/{id}': 'deleteConversation',
  'post /api/v1/conversations/{id}/join': 'joinConversation',
  'post /api/v1/conversations/{id}/read': 'markConversationRead',
  'post /api/v1/conversations/{id}/members': 'addMember',
  'delete /api/v1/conversations/{id}/members/{userId}': 'removeMember',
  'get /api/v1/conversations/{id}/messages': 'listMessages',
  'post /api/v1/conversations/{id}/messages': 'postMessage',
  'patch /api/v1/conversations/{id}/messages/{messageId}': 'editMessage',
  'delete /api/v1/conversations/{id}/messages/{messageId}': 'deleteMessage',
  'get /api/v1/admin/cache/stats': 'getCacheStats',
  'delete /api/v1/admin/cache': 'clearCache',
};

/** The document the gateway serves, as tools (linters, client generators) see it. */
describe('the served OpenAPI document', () => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let doc: Record<string, any>;
  beforeAll(async () => {
    env = await setupEnv('pglite');
    const res = await env.api.get('/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  it('lints clean with Redocly’s recommended rules (redocly.yaml): no error, no warning', async () => {
    const report = await lintOpenApi(doc);
    expect(report.problems, formatLintProblems(report)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it('the linter does report problems (a document without operation ids and servers fails)', async () => {
    const broken = structuredClone(doc);
    delete broken.servers;
    delete broken.paths['/health'].get.operationId;
    const report = await lintOpenApi(broken);
    expect(report.problems.map((p) => p.ruleId).sort()).toEqual(['no-empty-servers', 'operation-operationId']);
  });

  it('documents a 2xx answer for every operation but the stream (a WebSocket upgrade: 101, see redocly.yaml)', () => {
    const without: string[] = [];
    for (const [path, item] of Object.entries<Record<string, { responses: Record<string, unknown> }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!Object.keys(op.responses).some((code) => /^2\d\d$/.test(code))) without.push(`${method} ${path}`);
      }
    }
    expect(without).toEqual(['get /api/v1/stream']);
  });

  it('gives every operation its stable operationId', () => {
    const ids: Record<string, string> = {};
    for (const [path, item] of Object.entries<Record<string, { operationId: string }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) ids[`${method} ${path}`] = op.operationId;
    }
    expect(ids).toEqual(OPERATION_IDS);
  });

  it('names the shared schemas, and lists every error code of src/errors.ts', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas).sort()).toEqual(['ConversationListItem', 'ErrorBody', 'Message', 'User', 'UserSummary']);
    const codes = schemas.ErrorBody.properties.error.properties.code.anyOf.flatMap((c: { enum: string[] }) => c.enum);
    expect(codes).toEqual(ERROR_CODES);
    expect(codes).toContain('RESYNC_REQUIRED');
  });

  it('matches the committed TypeScript types (src/http/generated/openapi.ts; `npm run gen:api` regenerates them)', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    const generated = await generateApiTypes(doc);
    // On failure the diff shows what changed in the document since the types were generated.
    expect(generated).toBe(committed);
  });
});
