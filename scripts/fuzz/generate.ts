import { LIMITS } from '../../src/model/limits.js';
import {
  BOUNDARY_LENGTHS,
  deepJsonText,
  evilKey,
  evilNumber,
  evilString,
  malformedJson,
  NUMBER_STRINGS,
  randomJson,
  RAW_JSON_NUMBERS,
  TRAVERSAL_STRINGS,
} from './evil.js';
import type { WireRequest } from './http.js';
import type { Prng } from '../../support/prng.js';
import type { QueryParam, RouteSpec } from './routes.js';
import { authChoice, type AuthChoice } from './tokens.js';
import { NONEXISTENT_IDS, type World } from './world.js';

/**
 * `reject`: only requests that the contract rejects (so that no write may reach the database);
 * `any`: anything, valid writes included.
 */
export type Mode = 'reject' | 'any';

/** A victim's private conversation or message id, used by the attacker. */
export interface ForeignRef {
  kind: 'conversation' | 'message';
  id: string;
}

export interface FuzzRequest {
  n: number;
  /** For the statistics: which family of hostile input. */
  category: string;
  /** `METHOD /route/:pattern`, or a pseudo route (`protocol`, `unrouted`, `wrong-method`). */
  route: string;
  wire?: WireRequest;
  /** Protocol-level requests: bytes sent as they are over a socket. */
  raw?: Buffer;
  auth: AuthChoice;
  /** The contract rejects this request (only such requests are sent while the database is watched). */
  mustReject: boolean;
  /** Why it must be rejected (for a report). */
  rejectReason: string;
  /** An invalid token on an authenticated route whose path routes: the answer is a 401. */
  expect401: boolean;
  /** Victims' ids used by the attacker (with a valid token). */
  foreign: ForeignRef[];
  /** The same request with every victim id replaced by a never-issued id of the same length. */
  twin?: WireRequest | undefined;
  /** Whose answer it is: only the attacker's side is searched for the victims' data. */
  actor: 'attacker' | 'victim' | 'operator';
  /** A valid message post whose stored content can be checked (phase with valid writes). */
  roundtrip?: { content: string } | undefined;
  /** Called with a 2xx answer's parsed body (valid operations record the ids they create). */
  onSuccess?: ((data: any) => void) | undefined;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const isWrite = (method: string) => WRITE_METHODS.has(method.toUpperCase());

/** Percent-encodes UTF-8 bytes of everything but unreserved characters (lone surrogates become U+FFFD). */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const pctAll = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** Characters Node's client sends in a path as they are (it refuses the others). */
const rawSafe = (s: string) => /^[\u0021-\u00ff]*$/.test(s) && !/[?#]/.test(s);

/** Bytes of the request line and headers (Node refuses a head over 16 KiB with a 431/400 before any route). */
function headSize(path: string, headers: Record<string, string>): number {
  return Object.entries(headers).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 4, path.length + 32);
}

/** Whether the router can match the segment (bad percent-encoding and over-long params fail before routing). */
function routable(seg: string): boolean {
  if (seg.length === 0 || seg.length > 200) return false;
  if (/[/?#]/.test(seg)) return false;
  try {
    decodeURIComponent(seg);
  } catch {
    return false;
  }
  return true;
}

const INVALID_ENCODINGS = ['%', '%Z', '%ZZ', '%E0%A4%A', '%C0%AE%C0%AE', '%FF', '%FE%FF', '%ED%A0%80', '%uD800', '%%31', '1%', '%0', '%2'];

type ParamKind = 'conversation' | 'message' | 'user' | 'wildcard';
function paramKind(name: string): ParamKind {
  if (name === '*') return 'wildcard';
  if (/message/i.test(name)) return 'message';
  if (/user/i.test(name)) return 'user';
  return 'conversation';
}

interface Segment {
  seg: string;
  /** The value cannot name anything the attacker owns: the request is rejected for it. */
  foreign: boolean;
  ref?: ForeignRef | undefined;
}

export class Generator {
  private n = 0;

  constructor(
    private readonly world: World,
    private readonly routes: RouteSpec[],
  ) {}

  private get userIds(): string[] {
    const w = this.world;
    return [w.attacker.id, w.operator.id, ...w.victims.map((v) => v.id)];
  }

  // ---- path parameters ----

  private encodeSegment(rng: Prng, value: string, keepMeaning: boolean): string {
    // keepMeaning: every variant decodes to `value` (own ids stay own, foreign ids stay foreign).
    return rng.weighted<() => string>([
      [8, () => pct(value)],
      [2, () => (rawSafe(value) ? value : pct(value))],
      [1, () => pctAll(value)],
      [keepMeaning ? 0 : 1, () => pct(pct(value))],
    ])();
  }

  private foreignSegment(rng: Prng, kind: ParamKind): Segment {
    const w = this.world;
    const evil = (): Segment => {
      const v = rng.weighted<() => string>([
        [5, () => evilString(rng)],
        [3, () => rng.pick(NUMBER_STRINGS)],
        [2, () => rng.pick(TRAVERSAL_STRINGS)],
        [1, () => rng.pick(['1'.repeat(rng.int(19, 40)), 'a'.repeat(rng.int(150, 400)), '9'.repeat(rng.int(201, 260))])],
      ])();
      // Evil strings never match the id pattern (so never name an own row), whatever their encoding.
      return { seg: this.encodeSegment(rng, v, false), foreign: true };
    };
    return rng.weighted<() => Segment>([
      [
        kind === 'conversation' ? 6 : 0,
        () => {
          const id = rng.pick(w.victimPrivateConvs);
          return { seg: this.encodeSegment(rng, id, true), foreign: true, ref: { kind: 'conversation', id } };
        },
      ],
      [
        kind === 'message' ? 6 : 0,
        () => {
          const id = rng.pick(w.victimMessages).id;
          return { seg: this.encodeSegment(rng, id, true), foreign: true, ref: { kind: 'message', id } };
        },
      ],
      [3, () => ({ seg: this.encodeSegment(rng, rng.pick(NONEXISTENT_IDS), true), foreign: true })],
      [4, evil],
      [1, () => ({ seg: rng.pick(INVALID_ENCODINGS), foreign: true })],
    ])();
  }

  private ownSegment(rng: Prng, kind: ParamKind, name: string): Segment {
    const w = this.world;
    let value: string;
    switch (kind) {
      case 'conversation':
        value = rng.weighted([
          [6, () => rng.pick(w.attackerConvs)],
          [1, () => rng.pick(w.victimPublicConvs)],
        ] as const)();
        break;
      case 'message':
        value = rng.pick(w.attackerMessages).id;
        break;
      case 'user':
        value =
          name === 'idOrUsername' && rng.bool(0.4)
            ? rng.pick(['me', w.attacker.username, rng.pick(w.victims).username, w.operator.username.toUpperCase()])
            : rng.pick(this.userIds);
        break;
      case 'wildcard':
        return {
          seg: rng.weighted<() => string>([
            [3, () => rng.pick(['index.html', 'swagger-initializer.js', 'swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'oauth2-redirect.html'])],
            [3, () => rng.pick(['../../package.json', '../../../../etc/passwd', '..%2f..%2fpackage.json', '%2e%2e/%2e%2e/package.json', '%2e%2e%2f%2e%2e%2fpackage.json', '..\\..\\package.json', '....//....//package.json', 'index.html%00.js', '%00', '.', '..', '/etc/passwd', '//etc/passwd', 'static/../../../.env', '..;/..;/package.json'])],
            [1, () => this.encodeSegment(rng, evilString(rng), false)],
          ])(),
          foreign: true,
        };
    }
    return { seg: this.encodeSegment(rng, value, true), foreign: false };
  }

  // ---- query strings ----

  private queryValue(rng: Prng, p: QueryParam): string {
    const s = p.schema as Record<string, any>;
    const validish = (): string => {
      if (s.type === 'integer' || s.type === 'number') {
        const min = typeof s.minimum === 'number' ? s.minimum : 0;
        const max = typeof s.maximum === 'number' ? s.maximum : 1000;
        return String(rng.pick([min, max, min - 1, max + 1, rng.int(min, Math.min(max, min + 50))]));
      }
      const options = (s.anyOf ?? s.oneOf ?? []) as Array<Record<string, any>>;
      const enums = options.flatMap((o) => (Array.isArray(o.enum) ? o.enum : o.const !== undefined ? [o.const] : []));
      if (Array.isArray(s.enum)) enums.push(...s.enum);
      if (enums.length > 0) return String(rng.pick(enums));
      if (typeof s.pattern === 'string' && s.pattern.includes('[1-9]')) {
        return rng.pick([...this.userIds, ...this.world.victimPrivateConvs, this.world.victimMessages[0]!.id, ...NONEXISTENT_IDS]);
      }
      if (p.name === 'before') return this.cursor(rng);
      return 'x';
    };
    return rng.weighted<() => string>([
      [5, validish],
      [3, () => evilString(rng)],
      [2, () => rng.pick(NUMBER_STRINGS)],
      [1, () => ''],
    ])();
  }

  /** A list cursor: well-formed, or well-formed around impossible dates and ids, or not base64 JSON at all. */
  private cursor(rng: Prng): string {
    const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString(rng.bool(0.8) ? 'base64url' : 'base64');
    const date = rng.pick(['2024-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '2024-13-45T99:99:99.999Z', '2024-02-30T00:00:00.000Z', '1969-12-31T23:59:59.999Z', new Date().toISOString()]);
    const id = rng.pick([...this.world.victimPrivateConvs, ...this.world.attackerConvs, ...NONEXISTENT_IDS, '0', '-1', "1' OR 1=1", '9223372036854775808']);
    return rng.weighted<() => string>([
      [4, () => enc([date, id])],
      [1, () => enc([date, id, 'extra'])],
      [1, () => enc({ sortAt: date, id })],
      [1, () => enc(randomJson(rng, 2))],
      [1, () => enc(evilString(rng))],
      [1, () => evilString(rng)],
      [1, () => 'A'.repeat(rng.int(150, 260))],
    ])();
  }

  private queryString(rng: Prng, route: RouteSpec): string {
    if (route.query.length === 0 && rng.bool(0.85)) return '';
    return rng.weighted<() => string>([
      [
        8,
        () => {
          const parts: string[] = [];
          for (const p of route.query) {
            if (!rng.bool(p.required ? 0.7 : 0.45)) continue;
            const v = this.queryValue(rng, p);
            const ev = rng.bool(0.9) ? pct(v) : rawSafe(v) ? v.replace(/&/g, '%26') : pct(v);
            parts.push(`${p.name}=${ev}`);
            if (rng.bool(0.07)) parts.push(`${p.name}=${pct(this.queryValue(rng, p))}`);
          }
          if (rng.bool(0.15)) parts.push(`${pct(evilKey(rng))}=${pct(evilString(rng))}`);
          return parts.length ? `?${parts.join('&')}` : '';
        },
      ],
      [
        1,
        () =>
          `?${rng.pick(['', '&&&', '=', '==1', 'limit', 'limit=', 'limit[]=1', 'limit[a]=1', '__proto__[x]=1', 'constructor[prototype][x]=1', 'a=%00', ';limit=1', '%', '%ZZ=1', 'limit=%', 'limit=1%', 'type=%E0%A4%A', 'before=%FF%FE', 'limit=1&limit=2&limit=3', `x=${'y'.repeat(3000)}`])}`,
      ],
    ])();
  }

  // ---- bodies ----

  /** A value that the schema accepts (ids from the attacker's side, reasonable strings). */
  private validValue(rng: Prng, schema: Record<string, any> | undefined, name: string, depth = 0): unknown {
    if (!schema || depth > 6) return null;
    const options = (schema.anyOf ?? schema.oneOf) as Array<Record<string, any>> | undefined;
    if (options?.length) {
      const nonNull = options.filter((o) => o.type !== 'null');
      return this.validValue(rng, rng.pick(nonNull.length && rng.bool(0.9) ? nonNull : options), name, depth + 1);
    }
    if (Array.isArray(schema.enum)) return rng.pick(schema.enum);
    if (schema.const !== undefined) return schema.const;
    switch (schema.type) {
      case 'string': {
        const pattern = typeof schema.pattern === 'string' ? schema.pattern : '';
        if (pattern.includes('[1-9]')) {
          if (/message|replyTo/i.test(name)) return rng.pick(this.world.attackerMessages).id;
          if (/user|member/i.test(name)) return rng.pick(this.userIds.filter((u) => u !== this.world.attacker.id));
          return rng.pick(this.world.attackerConvs);
        }
        if (pattern.startsWith('^[A-Za-z0-9')) return `fz${rng.u32().toString(36)}`.slice(0, Math.max(3, schema.maxLength ?? 32));
        const min = schema.minLength ?? 0;
        const max = Math.min(schema.maxLength ?? 40, 40);
        const len = rng.int(Math.max(min, 1), Math.max(min, max, 1));
        return `fz ${'abcdefghij'.repeat(5)}`.slice(0, len).padEnd(len, 'x');
      }
      case 'integer':
      case 'number': {
        const min = schema.minimum ?? 0;
        const max = schema.maximum ?? min + 100;
        return rng.int(min, Math.min(max, min + 100));
      }
      case 'boolean':
        return rng.bool();
      case 'null':
        return null;
      case 'array': {
        const n = rng.int(schema.minItems ?? 1, Math.max(schema.minItems ?? 1, Math.min(schema.maxItems ?? 2, 2)));
        return Array.from({ length: n }, () => this.validValue(rng, schema.items, name, depth + 1));
      }
      case 'object':
      default: {
        const props = (schema.properties ?? {}) as Record<string, Record<string, any>>;
        const required = new Set<string>(schema.required ?? []);
        const out: Record<string, unknown> = {};
        for (const [k, s] of Object.entries(props)) {
          if (required.has(k) || rng.bool(0.6)) out[k] = this.validValue(rng, s, k, depth + 1);
        }
        return out;
      }
    }
  }

  /** One or two changes that usually make the body invalid (whether they do is decided by the schema). */
  private mutate(rng: Prng, route: RouteSpec, body: unknown): unknown {
    const schema = route.bodySchema as Record<string, any>;
    const props = (schema?.properties ?? {}) as Record<string, Record<string, any>>;
    const keys = Object.keys(props);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return randomJson(rng, 3);
    const b = { ...(body as Record<string, unknown>) };
    const times = rng.int(1, 2);
    for (let i = 0; i < times; i++) {
      const k = keys.length ? rng.pick(keys) : 'x';
      const ps = props[k] ?? {};
      rng.weighted<() => void>([
        [2, () => void delete b[k]],
        [2, () => (b[evilKey(rng)] = randomJson(rng, 2))],
        [3, () => (b[k] = randomJson(rng, 2))],
        [3, () => (b[k] = evilString(rng))],
        [1, () => (b[k] = evilNumber(rng))],
        [1, () => (b[k] = rng.pick([null, true, false, [], {}, [null], ['x'], 0]))],
        [
          2,
          () => {
            const max = typeof ps.maxLength === 'number' ? ps.maxLength : 100;
            b[k] = rng.pick(['x'.repeat(max + 1), '😀'.repeat(max + 1), 'x'.repeat(max), '', ' '.repeat(rng.int(1, 10)), '\u3000\u00a0', 'x'.repeat(rng.pick(BOUNDARY_LENGTHS))]);
          },
        ],
        [
          2,
          () => {
            // Id fields: victims' ids, never-issued ids, and number spellings.
            const ids = [...this.world.victimPrivateConvs, ...this.world.victimMessages.map((m) => m.id), ...NONEXISTENT_IDS, ...NUMBER_STRINGS];
            b[k] = ps.type === 'array' ? Array.from({ length: rng.int(0, 4) }, () => rng.pick(ids)) : rng.pick(ids);
          },
        ],
        [
          1,
          () => {
            // Arrays past their bound, with duplicates or never-issued ids.
            const max = typeof ps.maxItems === 'number' ? ps.maxItems : LIMITS.groupOtherMembersMax + 1;
            const n = rng.pick([max + 1, max + 2, max * 2, 0]);
            b[k] = rng.bool()
              ? Array.from({ length: n }, () => rng.pick(this.userIds))
              : Array.from({ length: n }, (_, j) => String(1_500_000 + j));
          },
        ],
      ])();
    }
    return b;
  }

  /**
   * A body on the wire, and whether the route rejects it for sure: the JSON the server would parse
   * from these bytes breaks the route's schema, or the bytes are no JSON, or too many.
   */
  private body(
    rng: Prng,
    route: RouteSpec,
    mode: Mode,
  ): { bytes: Buffer | undefined; contentType: string | undefined; chunked: boolean; surelyRejected: boolean; category: string; value?: unknown } {
    const hasSchema = Boolean(route.bodySchema);
    const parsesBody = isWrite(route.method);
    const json = (value: unknown, category: string) => {
      const text = JSON.stringify(value) ?? 'null';
      return this.transport(rng, route, text, category, mode);
    };
    if (!hasSchema) {
      if (rng.bool(0.85)) return { bytes: undefined, contentType: undefined, chunked: false, surelyRejected: false, category: 'no-body' };
      return this.transport(rng, route, JSON.stringify(randomJson(rng, 3)) ?? 'null', 'junk-body', mode);
    }
    const valid = this.validValue(rng, route.bodySchema, '');
    return rng.weighted<() => ReturnType<Generator['body']>>([
      [mode === 'any' ? 3 : 1, () => json(this.evilButValid(rng, route, valid), 'valid-ish')],
      [6, () => json(this.mutate(rng, route, valid), 'mutated')],
      [1.5, () => json(randomJson(rng, 3), 'random-json')],
      [
        1.5,
        () => this.transport(rng, route, malformedJson(rng, JSON.stringify(valid)), 'malformed', mode),
      ],
      [
        1,
        () => {
          // Over the 64 KiB limit: a long field, padding, or a long array.
          const size = rng.weighted([
            [6, () => rng.int(LIMITS.bodyMaxBytes + 1, LIMITS.bodyMaxBytes + 4096)],
            [3, () => rng.int(100_000, 400_000)],
            [0.5, () => rng.int(1_000_000, 2_000_000)],
          ] as const)();
          const v = { ...(valid as Record<string, unknown>) };
          const k = rng.pick(Object.keys(v).length ? Object.keys(v) : ['pad']);
          v[rng.bool() ? k : 'pad'] = rng.pick(['x', 'é', '😀']).repeat(Math.ceil(size / 3));
          return { ...json(v, 'oversize'), surelyRejected: parsesBody };
        },
      ],
      [
        0.8,
        () => {
          const depth = rng.pick([100, 1000, 5000, 10_000, 20_000]);
          return this.transport(rng, route, deepJsonText(rng, depth), `deep-${depth}`, mode);
        },
      ],
      [
        0.7,
        () => {
          // Raw JSON texts JSON.stringify cannot write: overflowing numbers, duplicate keys, prototype keys.
          const obj = JSON.stringify(valid);
          const k = Object.keys(valid as object)[0] ?? 'x';
          const text = rng.pick([
            `{"${k}":${rng.pick(RAW_JSON_NUMBERS)}}`,
            obj.replace(/^\{/, `{"${k}":${rng.pick(RAW_JSON_NUMBERS)},`),
            obj.replace(/^\{/, '{"__proto__":{"isAdmin":true,"role":"admin"},'),
            obj.replace(/^\{/, '{"constructor":{"prototype":{"isAdmin":true}},'),
            obj.replace(/\}$/, `,"${k}":${JSON.stringify(randomJson(rng, 1)) ?? 'null'}}`),
            obj.replace(/\}$/, `,"${k}":${JSON.stringify(evilString(rng))}}`),
            `{"${k}":"\\ud800\\udc00\\udbff"}`,
            `{"${k}":"\\u0000"}`,
            obj.replace(/"([a-zA-Z]+)":/, '"\\u00$1":'),
          ]);
          return this.transport(rng, route, text, 'raw-json', mode);
        },
      ],
      [0.5, () => ({ bytes: undefined, contentType: rng.pick([undefined, 'application/json']), chunked: false, surelyRejected: false, category: 'no-body' })],
    ])();
  }

  /** Valid, with hostile strings where the schema allows any text (SQL, Redis, unicode). */
  private evilButValid(rng: Prng, route: RouteSpec, valid: unknown): unknown {
    if (valid === null || typeof valid !== 'object' || Array.isArray(valid)) return valid;
    const props = ((route.bodySchema as Record<string, any>)?.properties ?? {}) as Record<string, Record<string, any>>;
    const out = { ...(valid as Record<string, unknown>) };
    for (const [k, v] of Object.entries(out)) {
      const ps = props[k];
      if (typeof v !== 'string' || !ps || ps.pattern?.includes('[1-9]') || ps.pattern?.startsWith('^[A-Za-z0-9') || !rng.bool(0.7)) continue;
      const candidate = evilString(rng);
      const next = { ...out, [k]: candidate };
      if (route.bodyValid(next)) out[k] = candidate;
    }
    return out;
  }

  /** How the JSON text goes on the wire: content types, BOM, broken UTF-8, chunks. */
  private transport(
    rng: Prng,
    route: RouteSpec,
    text: string,
    category: string,
    _mode: Mode,
  ): { bytes: Buffer; contentType: string | undefined; chunked: boolean; surelyRejected: boolean; category: string } {
    let bytes = Buffer.from(text, 'utf8');
    let contentType: string | undefined = 'application/json';
    let variant = '';
    rng.weighted<() => void>([
      [10, () => undefined],
      [1, () => (contentType = rng.pick(['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'APPLICATION/JSON', 'application/json; charset=utf-16', 'application/json; boundary=x']))],
      [
        1.5,
        () => {
          contentType = rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', 'text/html', 'application/octet-stream', 'application/json-patch+json', 'application/vnd.api+json', '*/*', 'application/*', 'json', ';', 'application/json, text/plain', '']);
          variant = `ct=${contentType}`;
          if (contentType === '') contentType = undefined;
        },
      ],
      [0.5, () => ((contentType = undefined), (variant = 'no-ct'))],
      [1, () => ((bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes])), (variant = 'bom'))],
      [
        1,
        () => {
          // Invalid UTF-8 inside the text (overlong, lone continuation, truncated sequence).
          const bad = rng.pick([[0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xff], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]);
          const at = Math.max(1, Math.min(bytes.length - 1, rng.int(1, Math.max(1, bytes.length - 2))));
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
          variant = 'bad-utf8';
        },
      ],
      [0.5, () => ((bytes = Buffer.from(text, 'utf16le')), (variant = 'utf16'))],
      [0.5, () => ((bytes = Buffer.from(`  \n\t${text}\n  `)), (variant = 'whitespace'))],
    ])();
    const chunked = rng.bool(0.05);
    const oversize = bytes.length > LIMITS.bodyMaxBytes && isWrite(route.method);
    const view = serverView(bytes, contentType);
    let surelyRejected: boolean;
    if (!isWrite(route.method)) surelyRejected = false; // GET/HEAD bodies are not read
    else if (oversize) surelyRejected = true;
    else if (route.bodySchema) surelyRejected = view.kind === 'unparseable' || (view.kind === 'json' && !route.bodyValid(view.value)) || view.kind === 'unsupported';
    else surelyRejected = view.kind === 'unparseable' || view.kind === 'unsupported';
    return { bytes, contentType, chunked, surelyRejected, category: variant ? `${category}+${variant}` : category };
  }

  // ---- whole requests ----

  /** Any route, as the attacker or with a forged token or none; in `reject` mode, only what the contract rejects. */
  /** The API's routes five times as often as the docs and operations routes. */
  private pickRoute(rng: Prng): RouteSpec {
    return rng.weighted(this.routes.map((r) => [r.url.startsWith('/api/') ? 5 : 1, r] as const));
  }

  routeRequest(rng: Prng, mode: Mode, route = this.pickRoute(rng)): FuzzRequest {
    const auth = authChoice(rng, this.world);
    const authFail = route.auth && auth.validity === 'invalid';
    const body = this.body(rng, route, mode);
    const nonAdmin = route.admin; // the attacker (and every forged identity) lacks the admin role
    const safe = !isWrite(route.method);
    // Which id parameters must be foreign for the request to be rejected anyway.
    const idParams = route.params.filter((p) => paramKind(p) !== 'wildcard');
    let needForeign = mode === 'reject' && !authFail && !body.surelyRejected && !nonAdmin && !safe;
    if (needForeign && idParams.length === 0) {
      // Nothing to make foreign: another body until one is surely rejected; at worst, JSON cut short.
      for (let i = 0; i < 20 && !body.surelyRejected; i++) Object.assign(body, this.body(rng, route, mode));
      if (!body.surelyRejected) {
        Object.assign(body, { bytes: Buffer.from('{"'), contentType: 'application/json', chunked: false, surelyRejected: true, category: 'malformed' });
      }
      needForeign = false;
    }
    const forcedForeign = needForeign ? rng.pick(idParams) : undefined;
    const segments: Segment[] = route.params.map((name) => {
      const kind = paramKind(name);
      if (kind === 'wildcard') return this.ownSegment(rng, kind, name);
      const foreign = name === forcedForeign || rng.bool(mode === 'reject' ? 0.45 : 0.35);
      if (!foreign && mode === 'reject' && needForeign && name !== forcedForeign) return this.ownSegment(rng, kind, name);
      return foreign ? this.foreignSegment(rng, kind) : this.ownSegment(rng, kind, name);
    });
    let i = 0;
    const path = route.url.replace(/:([A-Za-z0-9_]+)|\*/g, () => segments[i++]!.seg) + (route.method === 'GET' || route.method === 'HEAD' || rng.bool(0.1) ? this.queryString(rng, route) : '');
    const headers: Record<string, string> = {};
    if (auth.header !== undefined) headers.authorization = auth.header;
    if (body.contentType !== undefined && (body.bytes !== undefined || rng.bool(0.5))) headers['content-type'] = body.contentType;
    this.extraHeaders(rng, headers);
    const wire: WireRequest = {
      method: route.method,
      path,
      headers,
      body: body.bytes,
      chunked: body.chunked,
      fresh: (body.bytes?.length ?? 0) > LIMITS.bodyMaxBytes || rng.bool(0.02),
    };
    const foreign = auth.validity === 'valid' ? [...segments.flatMap((s) => (s.ref ? [s.ref] : [])), ...this.bodyRefs(wire)] : [];
    const anyForeign = segments.some((s) => s.foreign && paramKind(route.params[segments.indexOf(s)] ?? '') !== 'wildcard');
    const allRoutable = segments.every((s) => routable(s.seg));
    const reasons = [
      authFail && 'invalid token',
      body.surelyRejected && 'invalid body',
      nonAdmin && 'admin route',
      !safe && anyForeign && 'foreign id',
      safe && 'read-only method',
    ].filter(Boolean) as string[];
    return {
      n: ++this.n,
      category: `${authFail ? 'token' : 'route'}:${body.category}`,
      route: `${route.method} ${route.url}`,
      wire,
      auth,
      mustReject: reasons.length > 0 && !(reasons.length === 1 && safe),
      rejectReason: reasons.join(', '),
      // Past ~16 KiB of request line and headers, Node's parser refuses the request before any route.
      // Raw non-ASCII or control bytes in the request line: the HTTP parser answers 400 before any route.
      expect401: authFail && allRoutable && /^[\x21-\x7e]*$/.test(path) && headSize(path, headers) < 12_000,
      foreign,
      twin: foreign.length > 0 && rng.bool(0.5) ? twinOf(wire, foreign) : undefined,
      actor: 'attacker',
    };
  }

  /** Victims' ids in id fields of the body (`messageId`, `replyToId`, `memberIds`, ...). */
  private bodyRefs(wire: WireRequest): ForeignRef[] {
    if (!wire.body) return [];
    const view = serverView(wire.body, wire.headers['content-type']);
    if (view.kind !== 'json' || view.value === null || typeof view.value !== 'object' || Array.isArray(view.value)) return [];
    const convs = new Set(this.world.victimPrivateConvs);
    const messages = new Set(this.world.victimMessages.map((m) => m.id));
    const refs: ForeignRef[] = [];
    for (const [k, v] of Object.entries(view.value as Record<string, unknown>)) {
      // Only fields that name a conversation or a message: a message's id sent as a `userId` names
      // no user (ids of each kind have their own range), so it reaches nothing of the victim's.
      const names = /^conversationIds?$/.test(k) ? 'conversation' : /^(messageId|replyToId)s?$/.test(k) ? 'message' : undefined;
      if (names === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) {
        if (typeof x !== 'string') continue;
        if (names === 'conversation' && convs.has(x)) refs.push({ kind: 'conversation', id: x });
        if (names === 'message' && messages.has(x)) refs.push({ kind: 'message', id: x });
      }
    }
    return refs;
  }

  private extraHeaders(rng: Prng, headers: Record<string, string>): void {
    if (!rng.bool(0.2)) return;
    const options: Array<[string, () => string]> = [
      ['if-none-match', () => rng.pick(['*', 'W/"x"', '"x", *', '""', `"${'a'.repeat(2000)}"`, evilLatin1(rng)])],
      ['x-forwarded-for', () => rng.pick(['127.0.0.1', '::1', '1.2.3.4, 5.6.7.8', 'garbage', "' OR 1=1"])],
      ['accept', () => rng.pick(['application/xml', 'text/html', '*/*', '', 'application/json;q=0'])],
      ['accept-encoding', () => rng.pick(['gzip', 'br, deflate', 'identity;q=0', '*'])],
      ['content-encoding', () => rng.pick(['gzip', 'br', 'deflate', 'identity', 'x'])],
      ['x-http-method-override', () => rng.pick(['DELETE', 'PATCH', 'GET'])],
      ['cookie', () => 'session=x; token=y'],
      ['origin', () => 'http://evil.example'],
      ['x-request-id', () => evilLatin1(rng)],
      ['range', () => rng.pick(['bytes=0-10', 'bytes=-1', 'bytes=99999999-', 'bytes=x'])],
    ];
    for (let i = rng.int(1, 3); i > 0; i--) {
      const [k, v] = rng.pick(options);
      headers[k] = v();
    }
  }

  /** A registered path with a method it has no route for, or a path with no route at all. */
  unroutedRequest(rng: Prng): FuzzRequest {
    const auth = authChoice(rng, this.world);
    const headers: Record<string, string> = {};
    if (auth.header !== undefined) headers.authorization = auth.header;
    const route = rng.pick(this.routes);
    // Fastify serves a prefixed '/' route at both `/docs` and `/docs/`: same route, either spelling.
    const bare = (u: string) => u.replace(/(.)\/$/, '$1');
    const samplePath = route.url.replace(/:([A-Za-z0-9_]+)/g, () => rng.pick(this.world.attackerConvs)).replace('*', 'index.html');
    // Methods some route serves at this path: its own, and a parametric one's (`GET /users/me` is
    // `GET /users/:idOrUsername` when only `PATCH /users/me` is literal).
    const matches = (url: string) =>
      new RegExp(`^${bare(url).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+').replace('*', '.*')}$`).test(bare(samplePath));
    const taken = new Set(this.routes.filter((r) => bare(r.url) === bare(route.url) || matches(r.url)).map((r) => r.method));
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND', 'SEARCH', 'MKCOL', 'LOCK', 'PURGE', 'REPORT'].filter((m) => !taken.has(m));
    const wrongMethod = rng.bool(0.5);
    const path = wrongMethod
      ? samplePath
      : rng.pick([
          '/',
          '/api',
          '/api/v1',
          '/api/v2/conversations',
          '/api/v1/conversations/',
          `/api/v1/conversations/${this.world.attackerConvs[0]}/`,
          `/api/v1/conversations/${this.world.attackerConvs[0]}/messages/`,
          `/api/v1/conversations/${this.world.victimPrivateConvs[0]}/messages/${this.world.victimMessages[0]!.id}/extra`,
          '/api/v1//conversations',
          '/API/V1/CONVERSATIONS',
          '/api/v1/conversations/../users/me',
          '/api/v1/users/me/../../admin/cache',
          '/api/v1/admin',
          '/.env',
          '/.git/config',
          '/etc/passwd',
          '/docs/static/../../../package.json',
          '/metrics/../health',
          `/${pct(evilString(rng))}`,
          `/api/v1/conversations/${pct(evilString(rng))}/${pct(evilString(rng))}/x`,
          '/api/v1/conversations;jsessionid=1',
          '/api/v1/conversations%3Flimit=1',
          '/%2e%2e/%2e%2e/etc/passwd',
          '/health/',
          '/HEALTH',
        ]);
    const method = wrongMethod ? rng.pick(methods.length ? methods : ['PUT']) : rng.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
    let body: Buffer | undefined;
    if (method !== 'GET' && method !== 'HEAD' && rng.bool(0.5)) {
      body = Buffer.from(JSON.stringify(randomJson(rng, 2)) ?? 'null');
      headers['content-type'] = 'application/json';
    }
    return {
      n: ++this.n,
      category: wrongMethod ? 'wrong-method' : 'unrouted',
      route: wrongMethod ? `${method} ${route.url} (no such route)` : 'unrouted',
      wire: { method, path, headers, body },
      auth,
      mustReject: true,
      rejectReason: 'no such route',
      expect401: false,
      foreign: [],
      actor: 'attacker',
    };
  }

  /** Bytes no HTTP client would send: broken request lines, header bytes, smuggling, oversized heads. */
  protocolRequest(rng: Prng): FuzzRequest {
    const t = this.world.attacker.token;
    const c = this.world.victimPrivateConvs[0];
    const body = '{"content":"x"}';
    const raw = rng.pick([
      `GET /api/v1/conversations/\x01 HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /api/v1/conver sations HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      `GET /api/v1/conversations?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`,
      `POST /api/v1/conversations/${c}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n${body}\r\n0\r\n\r\n`,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n`,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n`,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      `FOO /health HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /health HTTP/9.9\r\nHost: x\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\nBadHeaderLine\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-A: b\r\n folded\r\n\r\n`,
      `GET /health HTTP/1.1\nHost: x\n\n`,
      `GET /health HTTP/1.1\r\n\r\n`,
      `GET /health HTTP/1.0\r\n\r\n`,
      `GET http://evil.example/api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`,
      `GET * HTTP/1.1\r\nHost: x\r\n\r\n`,
      `OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /api/v1/conversations/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`,
      `GET /api/v1/users/\xc3\xa9 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`,
      `GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/conversations/${c} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`,
      `GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nAuthorization: Bearer x\r\n\r\n`,
      `GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x7f\x01\r\n\r\n`,
    ]);
    return {
      n: ++this.n,
      category: 'protocol',
      route: 'protocol',
      raw: Buffer.from(raw, 'latin1'),
      auth: { kind: 'raw', header: undefined, validity: 'invalid' },
      // Reads, or requests the parser refuses (the smuggled POSTs name a victim's conversation): none can write.
      mustReject: false,
      rejectReason: '',
      expect401: false,
      foreign: [],
      actor: 'attacker',
    };
  }

  /** The hostile mix: mostly routes, some wrong methods and unknown paths, a few protocol-level requests. */
  next(rng: Prng, mode: Mode): FuzzRequest {
    return rng.weighted<() => FuzzRequest>([
      [90, () => this.routeRequest(rng, mode)],
      [6, () => this.unroutedRequest(rng)],
      [3, () => this.protocolRequest(rng)],
    ])();
  }
}

function evilLatin1(rng: Prng): string {
  return evilString(rng).replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

/** How the server reads these bytes as a JSON body (Fastify: JSON parser for application/json, text for text/plain, 415 otherwise). */
export function serverView(bytes: Buffer, contentType: string | undefined): { kind: 'json'; value: unknown } | { kind: 'unparseable' } | { kind: 'unsupported' } | { kind: 'other' } {
  const ct = (contentType ?? '').toLowerCase().split(';')[0]!.trim();
  // Over the limit the server reads no further: it is a 413 whatever the bytes (callers check the size).
  if (bytes.length > LIMITS.bodyMaxBytes) return { kind: 'other' };
  if (ct === 'application/json') {
    let text = bytes.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) return { kind: 'unparseable' };
    try {
      return { kind: 'json', value: JSON.parse(text) };
    } catch {
      return { kind: 'unparseable' };
    }
  }
  if (ct === 'text/plain') return { kind: 'other' };
  if (bytes.length > 0 && ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/octet-stream', 'text/html', ''].includes(ct)) {
    return { kind: 'unsupported' };
  }
  return { kind: 'other' };
}

/** The request with each victim id replaced (path and body) by a never-issued id of the same length. */
export function twinOf(wire: WireRequest, refs: ForeignRef[]): WireRequest {
  let path = wire.path;
  let body = wire.body?.toString('latin1');
  for (const r of refs) {
    const re = new RegExp(`(?<![0-9])${r.id}(?![0-9])`, 'g');
    const tw = r.id[0] + '9'.repeat(r.id.length - 1);
    path = path.replace(re, tw);
    // Percent-encoded forms of the id (`%32%30…`) are replaced too.
    path = path.replace(new RegExp(pctAll(r.id), 'gi'), pctAll(tw));
    body = body?.replace(re, tw);
  }
  return { ...wire, path, body: body === undefined ? undefined : Buffer.from(body, 'latin1') };
}
