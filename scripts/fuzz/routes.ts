import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

/** One route of the running app, with what its OpenAPI entry says about its inputs. */
export interface RouteSpec {
  method: string;
  /** Fastify's form: `/api/v1/conversations/:id`, `/docs/static/*`. */
  url: string;
  /** Path parameter names in order (`*` for a wildcard). */
  params: string[];
  /** The OpenAPI entry asks for a token (a security requirement, and none of them empty). */
  auth: boolean;
  /** Tagged `admin` (the admin role is required). */
  admin: boolean;
  bodySchema: Record<string, unknown> | undefined;
  bodyRequired: boolean;
  query: QueryParam[];
  /** Whether a parsed body passes the route's body schema (true when there is none, or no body). */
  bodyValid(value: unknown): boolean;
}

export interface QueryParam {
  name: string;
  schema: Record<string, unknown>;
  required: boolean;
}

type Json = Record<string, any>;

/** `#/components/schemas/x` references inlined (request schemas rarely have any; bounded anyway). */
function inlineRefs(schema: unknown, components: Json, depth = 0): unknown {
  if (depth > 20 || schema === null || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map((s) => inlineRefs(s, components, depth + 1));
  const s = schema as Json;
  if (typeof s.$ref === 'string' && s.$ref.startsWith('#/components/schemas/')) {
    return inlineRefs(components[s.$ref.slice('#/components/schemas/'.length)] ?? {}, components, depth + 1);
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) out[k] = inlineRefs(v, components, depth + 1);
  return out;
}

/**
 * Every route of `app.routeTable` (so that a route added later is fuzzed without touching the
 * fuzzer), described from the OpenAPI document the app publishes from the same schemas it validates with.
 */
export function routeSpecs(app: FastifyInstance): RouteSpec[] {
  const doc = (app as unknown as { swagger?: () => Json }).swagger?.() ?? {};
  const paths: Json = doc.paths ?? {};
  const components: Json = doc.components?.schemas ?? {};
  const ajv = new Ajv({ strict: false, allErrors: false, coerceTypes: false, useDefaults: false, validateFormats: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);

  const seen = new Set<string>();
  const specs: RouteSpec[] = [];
  for (const r of app.routeTable) {
    const key = `${r.method} ${r.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const params = [...r.url.matchAll(/:([A-Za-z0-9_]+)|\*/g)].map((m) => m[1] ?? '*');
    const oaPath = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const op: Json | undefined = paths[oaPath]?.[r.method.toLowerCase()] ?? (r.method === 'HEAD' ? paths[oaPath]?.get : undefined);
    const bodySchema = op?.requestBody?.content?.['application/json']?.schema
      ? (inlineRefs(op.requestBody.content['application/json'].schema, components) as Json)
      : undefined;
    let validate: ValidateFunction | undefined;
    if (bodySchema) {
      try {
        validate = ajv.compile(bodySchema);
      } catch {
        validate = undefined;
      }
    }
    const bodyRequired = Boolean(op?.requestBody?.required);
    const query: QueryParam[] = ((op?.parameters ?? []) as Json[])
      .filter((p) => p.in === 'query')
      .map((p) => ({ name: String(p.name), schema: (inlineRefs(p.schema ?? {}, components) as Json) ?? {}, required: Boolean(p.required) }));
    specs.push({
      method: r.method,
      url: r.url,
      params,
      // An empty requirement (`{}`) means "no token is fine too" (the stream: a browser's upgrade
      // authenticates with its first frame).
      auth: Array.isArray(op?.security) && op.security.length > 0 && !op.security.some((req: Json) => Object.keys(req).length === 0),
      admin: Array.isArray(op?.tags) && op.tags.includes('admin'),
      bodySchema,
      bodyRequired,
      query,
      bodyValid: (value) => {
        // No body at all is never counted as a sure rejection: a route may default it (POST .../read
        // without a body is "read all", although its OpenAPI entry marks the body as required).
        if (value === undefined) return true;
        return validate ? validate(value) === true : true;
      },
    });
  }
  return specs;
}
