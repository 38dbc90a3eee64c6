/**
 * The history the checker reasons over: every write the workload sent, with its client-side window,
 * and the effect it has (or may have) on small "registers" of the data a conversation list shows.
 *
 * ## Windows
 * A request has a window [s, e]: `s` is taken before fetch() is called, `e` after the whole response
 * body was read (or Infinity when no answer came). The server handled it — and a write committed, if it
 * did — strictly inside the window. All clocks are this one process's performance.now().
 *
 * ## Outcomes
 * - `ok` (2xx): applied, and acknowledged: the freshness guarantee is owed for it.
 * - `rejected` (4xx): applied nothing (the contract: a rejected write changes nothing).
 * - `unknown` (5xx, no answer): may or may not have been applied; never acknowledged.
 * - `pending`: still in flight; treated like `unknown` (may be applied).
 *
 * ## Registers
 * A register is one value that writes *set* (no read-modify-write): a member's presence in a
 * conversation, a title, a display name, a message's content, a message's liveness. For a register,
 * what a snapshot taken at an unknown instant T may show is decidable from the windows alone:
 *   - A = the writes that must be reflected at T (acknowledged before a bound; see callers);
 *   - the value at T is the value of the last write committed before T, so it is either
 *       - a write of A that no other write of A definitely follows (b follows a when b.s > a.e), or
 *       - a write that may have been applied, sent before the read's answer, and not definitely
 *         followed by a write of A (it cannot be the last one then);
 *       - or the initial value, when A is empty.
 * The resulting set is exact where it is a single value, and never too small (no false alarms).
 */
export type OpStatus = 'pending' | 'ok' | 'rejected' | 'unknown';

export type OpKind =
  | 'register'
  | 'login'
  | 'profile'
  | 'createGroup'
  | 'createPublic'
  | 'createDirect'
  | 'rename'
  | 'deleteConv'
  | 'addMember'
  | 'removeMember'
  | 'leave'
  | 'join'
  | 'read'
  | 'post'
  | 'edit'
  | 'deleteMsg'
  | 'clearCache';

export interface Op {
  id: number;
  kind: OpKind;
  /** `METHOD /api/v1/...` as Fastify registered it (the route-coverage guard compares these). */
  route: string;
  actor: string;
  instance: number;
  s: number;
  e: number;
  status: OpStatus;
  /** HTTP status; 0 when no answer came. */
  http: number;
  /** Human-readable description for violation reports. */
  desc: string;
  /** Filled by the model: extra facts about the op (conversation id, target, message, ...). */
  convId?: string | undefined;
  target?: string | undefined;
  msgId?: number | undefined;
  /** Members named by a create (creator included). */
  members?: string[] | undefined;
  title?: string | undefined;
  /** For createDirect: was a new conversation created (201) or an existing one returned (200). */
  created?: boolean | undefined;
  /** Statuses the model allows for this op, computed once every concurrent op has resolved. */
  expected?: number[] | undefined;
}

export interface RegWrite<V> {
  op: Op;
  value: V;
  /**
   * False when even a 2xx does not tell whether this value was written (e.g. a direct conversation
   * "created" again by a member who may or may not have left it): then it is never "acknowledged".
   */
  certain: boolean;
}

export class Register<V> {
  readonly writes: Array<RegWrite<V>> = [];
  constructor(readonly initial: V) {}

  add(op: Op, value: V, certain = true): RegWrite<V> {
    const w = { op, value, certain };
    this.writes.push(w);
    return w;
  }

  remove(w: RegWrite<V>): void {
    const i = this.writes.indexOf(w);
    if (i >= 0) this.writes.splice(i, 1);
  }
}

export const acked = (w: { op: Op; certain: boolean }): boolean => w.op.status === 'ok' && w.certain;
export const mayApply = (op: Op): boolean => op.status !== 'rejected';

/**
 * Values a snapshot may show, given which writes must be reflected (`isA`) and `t1`, a time the
 * snapshot is known to precede (writes sent at or after t1 cannot be in it). `exclude` leaves one op
 * out (the state *before* that op's own commit).
 */
export function allowedValues<V>(reg: Register<V>, isA: (w: RegWrite<V>) => boolean, t1: number, exclude?: Op): Set<V> {
  const out = new Set<V>();
  let maxAS = -Infinity;
  const A: Array<RegWrite<V>> = [];
  const inA = new Set<RegWrite<V>>();
  for (const w of reg.writes) {
    if (w.op === exclude) continue;
    if (isA(w)) {
      A.push(w);
      inA.add(w);
      if (w.op.s > maxAS) maxAS = w.op.s;
    }
  }
  if (A.length === 0) out.add(reg.initial);
  // Maximal writes of A: none of A definitely after them.
  for (const a of A) if (a.op.e >= maxAS) out.add(a.value);
  for (const w of reg.writes) {
    if (w.op === exclude || !mayApply(w.op) || w.op.s >= t1) continue;
    if (inA.has(w)) continue;
    // Definitely followed by a write that is reflected: cannot be the last one.
    if (w.op.e < maxAS) continue;
    out.add(w.value);
  }
  return out;
}

/** The database state at an instant inside [t0, t1] (e.g. the commit of an op with that window). */
export function dbValues<V>(reg: Register<V>, t0: number, t1: number, exclude?: Op): Set<V> {
  return allowedValues(reg, (w) => acked(w) && w.op.e < t0, t1, exclude);
}

export type Tri = 'yes' | 'no' | 'maybe';

export function tri<V>(values: Set<V>, yes: V): Tri {
  if (values.size === 1 && values.has(yes)) return 'yes';
  if (!values.has(yes)) return 'no';
  return 'maybe';
}
