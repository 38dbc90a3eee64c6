import { ErrorCodes, isErrorCode } from '../../src/errors.js';
import { isWrite, type FuzzRequest } from './generate.js';
import type { Outcome, WireResponse } from './http.js';
import type { World } from './world.js';

/** The statuses the contract's error codes go with (src/errors.ts). */
const CONTRACT_ERROR_STATUSES = new Set<number>(Object.values(ErrorCodes));

export interface Finding {
  kind: string;
  /** What is wrong, in a sentence. */
  message: string;
  route: string;
  status: number | undefined;
}

/** Stack traces and internals: never in any answer. */
const STACK = /\bat [^\s()]+ \(|\bat (?:async )?[^\s()]+:\d+:\d+|\.ts:\d+:\d+|\.js:\d+:\d+|"stack"\s*:|node_modules\/|\/work\//;
/** PostgreSQL's own error texts: never in any answer. */
const SQL_ERROR = /duplicate key value|violates (?:foreign key|unique|check|not-null)|syntax error at or near|invalid input syntax for|out of range for type|relation "[^"]+" does not exist|column "[^"]+" does not exist|current transaction is aborted|\bSQLSTATE\b|pg_catalog/i;
/** SQL itself: never in a 5xx (the contract), and never in an error that did not echo it from the request. */
const SQL_TEXT = /\bSELECT\b[\s\S]{0,200}\bFROM\b|\bINSERT INTO\b|\bUPDATE\b\s+\w+\s+SET\b|\bDELETE FROM\b/;

function requestText(req: FuzzRequest): string {
  const w = req.wire;
  if (req.raw) return req.raw.toString('latin1');
  if (!w) return '';
  let path = w.path;
  try {
    path = decodeURIComponent(w.path);
  } catch {
    // keep it encoded
  }
  return `${w.method} ${w.path} ${path} ${JSON.stringify(w.headers)} ${w.body?.toString('utf8') ?? ''}`;
}

/** A request, short enough for a report, precise enough to replay. */
export function describeRequest(req: FuzzRequest): string {
  if (req.raw) {
    const t = req.raw.toString('latin1');
    return `raw ${JSON.stringify(t.length > 300 ? `${t.slice(0, 300)}… (${t.length} bytes)` : t)}`;
  }
  const w = req.wire!;
  const path = w.path.length > 300 ? `${w.path.slice(0, 300)}… (${w.path.length} chars)` : w.path;
  const headers = Object.entries(w.headers)
    .map(([k, v]) => (k === 'authorization' ? `${k}: <${req.auth.kind}>` : `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…` : v}`))
    .join('; ');
  let body = '';
  if (w.body) {
    const t = w.body.toString('utf8');
    body = ` body(${w.body.length} B${w.chunked ? ', chunked' : ''}) ${JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}…` : t)}`;
  }
  return `${w.method} ${path} [${headers}]${body}`;
}

export function describeResponse(res: WireResponse): string {
  const t = res.text.length > 300 ? `${res.text.slice(0, 300)}…` : res.text;
  return `${res.status} ${res.headers['content-type'] ?? '(no content-type)'} ${JSON.stringify(t)}`;
}

export class Checker {
  private readonly secrets: Array<[string, RegExp | string]>;

  constructor(private readonly world: World) {
    this.secrets = [
      ['the JWT secret', world.jwtSecret],
      ['/etc/passwd', /root:x?:0:0:/],
      ['package.json', /"name":\s*"chatgate",\s*"version"/],
      ['a database URL', /postgres(?:ql)?:\/\//],
      ['a password hash', /scrypt\$\d+\$/],
    ];
  }

  /** Everything wrong with one answer. */
  check(req: FuzzRequest, out: Outcome): Finding[] {
    const f: Finding[] = [];
    const add = (kind: string, message: string, status?: number) => f.push({ kind, message, route: req.route, status });
    if (!out.ok) {
      if (out.error.startsWith('no answer')) add('hang', `no answer: ${out.error}`);
      return f;
    }
    const res = out.res;
    const s = res.status;
    const head = req.wire?.method === 'HEAD' || /^HEAD /.test(req.raw?.toString('latin1') ?? '');
    const text = res.text;

    // GET /ready answers 503 (its own body) while the database does not answer within a second: that is
    // its contract, and it happens on a loaded machine. Every other 5xx is a finding.
    const readiness = /^(GET|HEAD) \/ready$/.test(req.route) && s === 503;
    if (s >= 500 && !readiness) add('5xx', `status ${s}: ${describeResponse(res)}`, s);

    // The error shape, with a code that matches the status.
    if (s >= 400 && !readiness) {
      if (!CONTRACT_ERROR_STATUSES.has(s) && s < 500) add('error-status', `status ${s} is not one of the contract's error statuses: ${describeResponse(res)}`, s);
      if (!head) {
        const shape = errorShapeProblem(res);
        if (shape) add('error-shape', `${shape}: ${describeResponse(res)}`, s);
      }
    } else if (s >= 200 && s < 300 && !head && s !== 204 && req.wire?.path.startsWith('/api/v1/')) {
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!body || body.success !== true || !('data' in body)) add('success-shape', `2xx without {success:true,data}: ${describeResponse(res)}`, s);
    }

    // Internals: in errors and API answers (not in the docs' static assets, megabytes of JavaScript).
    const echoed = requestText(req);
    const scan = s >= 400 || (req.wire?.path.startsWith('/api/') ?? true);
    for (const re of scan ? [STACK, SQL_ERROR, ...(s >= 500 ? [SQL_TEXT] : [])] : []) {
      const m = re.exec(text);
      if (m && !echoed.includes(m[0])) add('internals', `answer carries ${JSON.stringify(m[0])}: ${describeResponse(res)}`, s);
    }
    const all = `${JSON.stringify(res.headers)}\n${text}`;
    for (const [what, needle] of this.secrets) {
      const hit = typeof needle === 'string' ? all.includes(needle) : needle.test(all);
      if (hit && !(typeof needle !== 'string' && needle.test(echoed))) add('secret-leak', `answer carries ${what}: ${describeResponse(res)}`, s);
    }

    // The victims' data, in anything answered to the attacker's side.
    if (req.actor === 'attacker') {
      if (all.includes(this.world.markerPrefix)) add('victim-data-leak', `a victim's private title or message in the answer: ${describeResponse(res)}`, s);
      if (s >= 200 && s < 300) {
        for (const id of [...this.world.victimPrivateConvs, ...this.world.victimMessages.map((m) => m.id)]) {
          // As an id (not as text: the attacker may well have titled its own group "3000000001").
          const asId = new RegExp(`"(?:id|conversationId|messageId|replyToId|lastMessageId)"\\s*:\\s*"${id}"`);
          if (asId.test(text) && !echoed.includes(id)) add('victim-id-leak', `the id ${id} of a victim's conversation or message in a 2xx answer: ${describeResponse(res)}`, s);
        }
      }
    }

    // What the contract says this request gets.
    if (req.expect401 && s !== 401) add('token-not-401', `invalid token (${req.auth.kind}) answered ${s}, not 401: ${describeResponse(res)}`, s);
    if (req.mustReject && s < 400) {
      add('accepted', `accepted although it must be rejected (${req.rejectReason}): ${describeResponse(res)}`, s);
    }
    if (req.foreign.length > 0 && ((s >= 200 && s < 400) || s === 403 || s === 409)) {
      add('foreign-access', `the attacker used a victim's ${req.foreign.map((r) => `${r.kind} ${r.id}`).join(', ')} and got ${s} (a non-member gets 404): ${describeResponse(res)}`, s);
    }
    if (req.roundtrip && s === 201) {
      const expected = Buffer.from(req.roundtrip.content.trim(), 'utf8').toString('utf8');
      let got: unknown;
      try {
        got = JSON.parse(text).data?.content;
      } catch {
        got = undefined;
      }
      if (got !== expected) add('roundtrip', `stored content differs: sent ${JSON.stringify(req.roundtrip.content).slice(0, 120)}, got ${JSON.stringify(got).slice(0, 120)}`, s);
    }
    return f;
  }

  /** A victim's id and a never-issued one must get the same answer (no existence oracle). */
  checkTwin(req: FuzzRequest, a: Outcome, b: Outcome): Finding[] {
    if (!a.ok || !b.ok) return [];
    const norm = (res: WireResponse) => {
      let code = '';
      let message = '';
      try {
        const body = JSON.parse(res.text);
        code = String(body?.error?.code ?? '');
        message = String(body?.error?.message ?? '');
      } catch {
        message = res.text;
      }
      for (const r of req.foreign) {
        message = message.split(r.id).join('<id>').split(r.id[0] + '9'.repeat(r.id.length - 1)).join('<id>');
      }
      return `${res.status} ${code} ${message}`;
    };
    const x = norm(a.res);
    const y = norm(b.res);
    if (x === y) return [];
    return [
      {
        kind: 'existence-oracle',
        message: `a victim's ${req.foreign.map((r) => r.kind).join('/')} id and a never-issued id get different answers: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`,
        route: req.route,
        status: a.res.status,
      },
    ];
  }
}

/** Why an error answer is not exactly `{ success: false, error: { code, message } }` with the status's code, or undefined. */
export function errorShapeProblem(res: WireResponse): string | undefined {
  if (!(res.headers['content-type'] ?? '').includes('application/json')) return 'not JSON (content-type)';
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    return 'body is not JSON';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not an object';
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'error,success') return `keys are ${keys}, not error,success`;
  if (body.success !== false) return 'success is not false';
  const e = body.error;
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'error is not an object';
  const ekeys = Object.keys(e).sort().join(',');
  if (ekeys !== 'code,message') return `error keys are ${ekeys}, not code,message`;
  if (typeof e.message !== 'string' || e.message.length === 0) return 'error.message is not a non-empty string';
  const code: unknown = e.code;
  if (!isErrorCode(code)) return `error.code ${JSON.stringify(code)} is not a contract code`;
  const want = ErrorCodes[code];
  if (want !== res.status) return `error.code ${code} goes with ${want}, not ${res.status}`;
  return undefined;
}

export { isWrite };
