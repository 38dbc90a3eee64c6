/**
 * The world as the workload wrote it: users, conversations, messages, and for each piece of data a
 * conversation list shows, the register of writes that set it (see history.ts). The model never
 * guesses an outcome: a write's effects are recorded when it is sent (status `pending`) and its
 * status is filled in when the answer comes.
 *
 * ## Who is "affected" by a write (the contract's notion, not the implementation's)
 * The freshness guarantee is owed to users whose list the write changes. The checker decides it from
 * the database state at the write's commit (inside its window), and counts a user as affected only
 * when that is certain:
 *   - a write in conversation C (post, delete message, rename, delete C, add/remove/leave/join,
 *     creation): every user who is certainly an active member of C at the commit, plus the user whose
 *     membership the write changes (added, removed, leaving, joining, created with);
 *   - a message edit: C's active members, if the edited message is certainly C's last message at the
 *     commit (an older message shows in no list);
 *   - a read marker: the reader;
 *   - a profile change of V: V, and every user who is certainly an active member of a conversation that
 *     certainly shows V's name at the commit: a direct conversation with V (its title, whether or not V
 *     left it), a conversation with V as a certain member and at most 5 possible members (previews),
 *     a conversation whose last message is certainly V's.
 * A snapshot served to an affected user after the write's 2xx must have been computed after the commit.
 * Consequently it also reflects every write acknowledged before that write was *sent* (it committed
 * earlier): reads use this to extend the set of writes they must reflect (`tlo` in ReadView).
 */
import { acked, allowedValues, dbValues, mayApply, Register, tri, type Op, type OpKind, type OpStatus, type RegWrite } from './history.js';

export type Membership = 'in' | 'out';
export type Role = 'admin' | 'member' | '?';
export type Liveness = 'absent' | 'live' | 'deleted';
export type ConvType = 'direct' | 'group' | 'public';

export interface MUser {
  id: string;
  username: string;
  token: string;
  /** JSON of [displayName, avatar]: a profile PATCH always sets both, so this is a register. */
  name: Register<string>;
  /** Conversations in which this user has a membership register (was ever named by a write). */
  convs: Set<Conv>;
}

export interface LRWrite {
  op: Op;
  /** An explicit message id; undefined: "the newest message" (read-all, or a (re)join). */
  explicit: number | undefined;
  certain: boolean;
}

export interface Msg {
  /** Undefined until known (a 201, or found in a list when the post's outcome was unknown). */
  id: number | undefined;
  conv: Conv;
  sender: string;
  content0: string;
  post: Op;
  live: Register<Liveness>;
  content: Register<string>;
}

export interface Conv {
  id: string;
  type: ConvType;
  pair: [string, string] | undefined;
  createOp: Op;
  exists: Register<'yes' | 'no'>;
  /** Group/public: JSON of [title, avatar] (a PATCH always sets both). */
  title: Register<string>;
  members: Map<string, Register<Membership>>;
  roles: Map<string, Register<Role>>;
  lastRead: Map<string, LRWrite[]>;
  /** Messages with a known id, ascending. */
  messages: Msg[];
  byId: Map<number, Msg>;
  /** Posts whose id is not known (in flight, or outcome unknown). */
  unresolvedPosts: Msg[];
  /** Deletes of c and removals that may promote a member: replayed into registers created later. */
  deleteOps: Op[];
  promotionOps: Op[];
}

export const nameValue = (displayName: string, avatar: string | null): string => JSON.stringify([displayName, avatar]);
export const titleValue = (title: string, avatar: string | null): string => JSON.stringify([title, avatar]);
const pairKey = (a: string, b: string): string => (BigInt(a) < BigInt(b) ? `${a}:${b}` : `${b}:${a}`);

interface DirectCreatorWrites {
  lrCaller: LRWrite;
  lrOther: LRWrite | undefined;
  regs: Array<[Register<any>, RegWrite<any>]>;
}

const EMPTY_MEMBER = new Register<Membership>('out');

export class World {
  readonly users = new Map<string, MUser>();
  readonly convs = new Map<string, Conv>();
  readonly ops: Op[] = [];
  /** Completed ops, ascending by `e`. */
  readonly completed: Op[] = [];
  readonly pending = new Set<Op>();
  /** createDirect ops per user pair, and the pair's conversation once known. */
  readonly pairs = new Map<string, { conv: Conv | undefined; ops: Op[] }>();
  /** Group/public creates whose conversation id is not known (in flight or outcome unknown). */
  readonly unresolvedCreates = new Set<Op>();
  /** Message ids of every known message (any conversation), for "is this id ours" checks. */
  readonly messageIds = new Map<number, Msg>();
  private nextOpId = 1;
  private readonly directWrites = new Map<Op, DirectCreatorWrites>();
  private minPendingCache: number | undefined;
  private affectsMemo = new Map<number, Map<string, boolean>>();

  // ------------------------------------------------------------------ ops

  newOp(kind: OpKind, route: string, actor: string, instance: number, desc: string): Op {
    const op: Op = { id: this.nextOpId++, kind, route, actor, instance, s: performance.now(), e: Infinity, status: 'pending', http: 0, desc };
    this.ops.push(op);
    this.pending.add(op);
    this.minPendingCache = undefined;
    return op;
  }

  complete(op: Op, http: number, doneAt: number): void {
    op.http = http;
    let status: OpStatus;
    if (http >= 200 && http < 300) status = 'ok';
    else if (http >= 400 && http < 500) status = 'rejected';
    else status = 'unknown';
    op.status = status;
    // No answer at all: the server may still be working on it.
    op.e = http === 0 ? Infinity : doneAt;
    this.pending.delete(op);
    this.minPendingCache = undefined;
    if (op.e !== Infinity) {
      let i = this.completed.length;
      while (i > 0 && this.completed[i - 1]!.e > op.e) i--;
      this.completed.splice(i, 0, op);
    }
  }

  /** Smallest `s` of an op still in flight (Infinity when none). */
  minPendingS(): number {
    if (this.minPendingCache !== undefined) return this.minPendingCache;
    let m = Infinity;
    for (const op of this.pending) if (op.s < m) m = op.s;
    return (this.minPendingCache = m);
  }

  // ------------------------------------------------------------------ structure

  addUser(id: string, username: string, token: string, displayName: string): MUser {
    const u: MUser = { id, username, token, name: new Register(nameValue(displayName, null)), convs: new Set() };
    this.users.set(id, u);
    return u;
  }

  member(c: Conv, u: string): Register<Membership> {
    return c.members.get(u) ?? EMPTY_MEMBER;
  }

  memberReg(c: Conv, u: string): Register<Membership> {
    let r = c.members.get(u);
    if (!r) {
      r = new Register<Membership>('out');
      for (const op of c.deleteOps) r.add(op, 'out');
      c.members.set(u, r);
      this.users.get(u)?.convs.add(c);
    }
    return r;
  }

  roleReg(c: Conv, u: string): Register<Role> {
    let r = c.roles.get(u);
    if (!r) {
      r = new Register<Role>('member');
      for (const op of c.promotionOps) r.add(op, '?');
      c.roles.set(u, r);
    }
    return r;
  }

  lrWrites(c: Conv, u: string): LRWrite[] {
    let l = c.lastRead.get(u);
    if (!l) c.lastRead.set(u, (l = []));
    return l;
  }

  private newConv(id: string, type: ConvType, createOp: Op, title: string | null, pair?: [string, string]): Conv {
    const c: Conv = {
      id,
      type,
      pair,
      createOp,
      exists: new Register<'yes' | 'no'>('no'),
      title: new Register(titleValue(title ?? '', null)),
      members: new Map(),
      roles: new Map(),
      lastRead: new Map(),
      messages: [],
      byId: new Map(),
      unresolvedPosts: [],
      deleteOps: [],
      promotionOps: [],
    };
    this.convs.set(id, c);
    return c;
  }

  /** The other member of a direct conversation c of `u`'s, if c is one. */
  private directOther(c: Conv, u: string): string | undefined {
    if (c.type !== 'direct' || !c.pair?.includes(u)) return undefined;
    return c.pair.find((x) => x !== u);
  }

  /** Records a member joining (create, add, join, direct re-add): presence, role, read marker. */
  private joinEffects(c: Conv, op: Op, u: string, role: Role, certainLr = true): void {
    this.memberReg(c, u).add(op, 'in');
    this.roleReg(c, u).add(op, role);
    this.lrWrites(c, u).push({ op, explicit: undefined, certain: certainLr });
  }

  /** A group/public create answered 2xx: the conversation exists from then on. */
  createdConv(op: Op, id: string, type: 'group' | 'public', title: string, members: string[]): Conv {
    const c = this.newConv(id, type, op, title);
    c.exists.add(op, 'yes');
    members.forEach((m, i) => this.joinEffects(c, op, m, i === 0 ? 'admin' : 'member'));
    return c;
  }

  pairOf(a: string, b: string): { conv: Conv | undefined; ops: Op[] } {
    const k = pairKey(a, b);
    let p = this.pairs.get(k);
    if (!p) this.pairs.set(k, (p = { conv: undefined, ops: [] }));
    return p;
  }

  /**
   * Effects of a createDirect op on its pair's conversation. The caller is an active member after any
   * success; the other member's presence, the conversation's existence and the read markers were
   * written only if this op created the conversation (`created`; undefined: not known yet).
   */
  private attachDirect(c: Conv, op: Op, mayCreate: boolean): void {
    const caller = op.actor;
    const other = op.target!;
    op.convId = c.id;
    const certain = op.created === true;
    this.memberReg(c, caller).add(op, 'in');
    this.roleReg(c, caller).add(op, 'member');
    const lrCaller: LRWrite = { op, explicit: undefined, certain };
    this.lrWrites(c, caller).push(lrCaller);
    const creatorWrites: DirectCreatorWrites = { lrCaller, regs: [], lrOther: undefined };
    if (mayCreate) {
      creatorWrites.regs.push([c.exists, c.exists.add(op, 'yes', certain)]);
      creatorWrites.regs.push([this.memberReg(c, other), this.memberReg(c, other).add(op, 'in', certain)]);
      creatorWrites.regs.push([this.roleReg(c, other), this.roleReg(c, other).add(op, 'member', certain)]);
      creatorWrites.lrOther = { op, explicit: undefined, certain };
      this.lrWrites(c, other).push(creatorWrites.lrOther);
    }
    this.directWrites.set(op, creatorWrites);
  }

  /** A createDirect op is being sent. */
  directSent(op: Op, caller: string, other: string): void {
    op.target = other;
    const p = this.pairOf(caller, other);
    p.ops.push(op);
    if (p.conv) this.attachDirect(p.conv, op, false);
  }

  /** A createDirect op answered 2xx with conversation `id`. */
  directAnswered(op: Op, id: string, created: boolean): void {
    op.created = created;
    const p = this.pairOf(op.actor, op.target!);
    if (!p.conv) {
      const creator = created ? op : (p.ops.find((o) => o.status === 'unknown' || o.status === 'pending') ?? op);
      const c = this.newConv(id, 'direct', creator, null, [op.actor, op.target!]);
      p.conv = c;
      for (const o of p.ops) {
        if (o.status === 'rejected') continue;
        // Only one op created it: when this one did, none of the others did.
        this.attachDirect(c, o, o === op ? created : !created && (o.status !== 'ok' || o.created === true));
      }
      return;
    }
    if (p.conv.id !== id) throw new Error(`two direct conversations for one pair: ${p.conv.id} and ${id}`);
    const w = this.directWrites.get(op);
    if (!w) return;
    if (created) {
      // Attached while its outcome was open: what it wrote is now certain.
      w.lrCaller.certain = true;
      for (const [, rw] of w.regs) rw.certain = true;
      if (w.lrOther) w.lrOther.certain = true;
    } else {
      for (const [reg, rw] of w.regs) reg.remove(rw);
      if (w.lrOther) {
        const l = p.conv.lastRead.get(op.target!);
        const i = l?.indexOf(w.lrOther) ?? -1;
        if (i >= 0) l!.splice(i, 1);
      }
      w.regs.length = 0;
      w.lrOther = undefined;
      w.lrCaller.certain = false;
    }
  }

  // Effects recorded when an op is sent (its status is filled in later).
  renameSent(op: Op, c: Conv, title: string, avatar: string | null): void {
    op.convId = c.id;
    c.title.add(op, titleValue(title, avatar));
  }

  deleteConvSent(op: Op, c: Conv): void {
    op.convId = c.id;
    c.exists.add(op, 'no');
    c.deleteOps.push(op);
    for (const r of c.members.values()) r.add(op, 'out');
  }

  addMemberSent(op: Op, c: Conv, x: string): void {
    op.convId = c.id;
    op.target = x;
    this.joinEffects(c, op, x, 'member');
  }

  joinSent(op: Op, c: Conv): void {
    op.convId = c.id;
    op.target = op.actor;
    this.joinEffects(c, op, op.actor, 'member');
  }

  /** Remove (admin) or leave (x = actor). If x may be an admin, the oldest member may be promoted. */
  removeSent(op: Op, c: Conv, x: string): void {
    op.convId = c.id;
    op.target = x;
    this.memberReg(c, x).add(op, 'out');
    if (c.type !== 'direct' && dbValues(this.roleReg(c, x), op.s, Infinity).has('admin')) {
      c.promotionOps.push(op);
      for (const [u, r] of c.roles) if (u !== x) r.add(op, '?');
    }
  }

  readSent(op: Op, c: Conv, explicit: number | undefined): void {
    op.convId = c.id;
    op.msgId = explicit;
    this.lrWrites(c, op.actor).push({ op, explicit, certain: true });
  }

  postSent(op: Op, c: Conv, content: string): Msg {
    op.convId = c.id;
    const m: Msg = {
      id: undefined,
      conv: c,
      sender: op.actor,
      content0: content,
      post: op,
      live: new Register<Liveness>('absent'),
      content: new Register<string>(content),
    };
    m.live.add(op, 'live');
    c.unresolvedPosts.push(m);
    // A message in a direct conversation brings back the other member if they had left it (hidden it):
    // after a successful post both are members; their read marker moves only if they were out.
    const other = this.directOther(c, op.actor);
    if (other !== undefined) this.joinEffects(c, op, other, 'member', false);
    return m;
  }

  /** The id of a post became known (its 201, or a list showing it). */
  resolvePost(m: Msg, id: number): void {
    const c = m.conv;
    const i = c.unresolvedPosts.indexOf(m);
    if (i >= 0) c.unresolvedPosts.splice(i, 1);
    if (m.id !== undefined) return;
    m.id = id;
    m.post.msgId = id;
    let j = c.messages.length;
    while (j > 0 && c.messages[j - 1]!.id! > id) j--;
    c.messages.splice(j, 0, m);
    c.byId.set(id, m);
    this.messageIds.set(id, m);
  }

  /** A post was rejected (4xx): it never existed. */
  dropPost(m: Msg): void {
    const i = m.conv.unresolvedPosts.indexOf(m);
    if (i >= 0) m.conv.unresolvedPosts.splice(i, 1);
  }

  editSent(op: Op, m: Msg, content: string): void {
    op.convId = m.conv.id;
    op.msgId = m.id;
    m.content.add(op, content);
  }

  deleteMsgSent(op: Op, m: Msg): void {
    op.convId = m.conv.id;
    op.msgId = m.id;
    m.live.add(op, 'deleted');
  }

  profileSent(op: Op, u: MUser, displayName: string, avatar: string | null): void {
    u.name.add(op, nameValue(displayName, avatar));
  }

  // ------------------------------------------------------------------ database-state reasoning

  /** Presence of u in c at the commit of an op with window [t0, t1] (the op itself left out). */
  memberAt(c: Conv, u: string, t0: number, t1: number, exclude?: Op): Set<Membership> {
    return dbValues(this.member(c, u), t0, t1, exclude);
  }

  /** Is u certainly an active member of c at op's commit (before op's own effect)? */
  definitelyIn(c: Conv, u: string, op: Op): boolean {
    return tri(this.memberAt(c, u, op.s, op.e, op), 'in') === 'yes';
  }

  /** The message that is certainly c's last live message at any instant of [t0, t1], if there is one. */
  certainLast(c: Conv, t0: number, t1: number): Msg | undefined {
    let def: Msg | undefined;
    let defIdx = -1;
    c.messages.forEach((m, i) => {
      if (tri(dbValues(m.live, t0, t1), 'live') === 'yes') {
        def = m;
        defIdx = i;
      }
    });
    if (!def) return undefined;
    for (let i = defIdx + 1; i < c.messages.length; i++) if (dbValues(c.messages[i]!.live, t0, t1).has('live')) return undefined;
    for (const m of c.unresolvedPosts) if (mayApply(m.post) && m.post.s < t1) return undefined;
    return def;
  }

  /** Users who may be active members of c at an instant of [t0, t1]. */
  possibleMembers(c: Conv, t0: number, t1: number): number {
    let n = 0;
    for (const r of c.members.values()) if (dbValues(r, t0, t1).has('in')) n++;
    return n;
  }

  /** Whether `op`'s 2xx owes freshness to `u` (see the header). Memoized once nothing concurrent is in flight. */
  affects(op: Op, u: string): boolean {
    let memo = this.affectsMemo.get(op.id);
    const hit = memo?.get(u);
    if (hit !== undefined) return hit;
    const v = this.computeAffects(op, u);
    if (this.minPendingS() > op.e) {
      if (!memo) this.affectsMemo.set(op.id, (memo = new Map()));
      memo.set(u, v);
    }
    return v;
  }

  private computeAffects(op: Op, u: string): boolean {
    const c = op.convId !== undefined ? this.convs.get(op.convId) : undefined;
    switch (op.kind) {
      case 'createGroup':
      case 'createPublic':
        return op.members?.includes(u) ?? false;
      case 'createDirect': {
        if (!c) return false;
        if (op.created) return u === op.actor || u === op.target;
        // Existing conversation: something changed only if the caller had certainly left it.
        if (tri(this.memberAt(c, op.actor, op.s, op.e, op), 'out') !== 'yes') return false;
        return u === op.actor || this.definitelyIn(c, u, op);
      }
      case 'addMember':
      case 'removeMember':
      case 'leave':
      case 'join':
        if (u === op.target) return true;
        return c !== undefined && this.definitelyIn(c, u, op);
      case 'post': {
        if (!c) return false;
        // A post in a direct conversation the other member had certainly left brings it back to their list.
        if (u === this.directOther(c, op.actor) && tri(this.memberAt(c, u, op.s, op.e, op), 'out') === 'yes') return true;
        return this.definitelyIn(c, u, op);
      }
      case 'deleteMsg':
      case 'rename':
      case 'deleteConv':
        return c !== undefined && this.definitelyIn(c, u, op);
      case 'edit': {
        if (!c || op.msgId === undefined) return false;
        const last = this.certainLast(c, op.s, op.e);
        return last?.id === op.msgId && this.definitelyIn(c, u, op);
      }
      case 'read':
        return u === op.actor;
      case 'profile': {
        if (u === op.actor) return true;
        const user = this.users.get(u);
        if (!user) return false;
        for (const cc of user.convs) {
          if (!this.definitelyIn(cc, u, op)) continue;
          if (cc.type === 'direct' && cc.pair?.includes(op.actor)) return true;
          if (this.definitelyIn(cc, op.actor, op) && this.possibleMembers(cc, op.s, op.e) <= 5) return true;
          if (this.certainLast(cc, op.s, op.e)?.sender === op.actor) return true;
        }
        return false;
      }
      default:
        return false;
    }
  }

  /**
   * The latest `s` of an op acknowledged before `S` that affects `u`: a snapshot served to u at S was
   * computed after that op's commit, hence after every op acknowledged before that `s`.
   */
  tlo(u: string, S: number, maxScan = 4000): number {
    let best = -Infinity;
    let i = this.completed.length - 1;
    while (i >= 0 && this.completed[i]!.e >= S) i--;
    for (let n = 0; i >= 0 && n < maxScan; i--, n++) {
      const op = this.completed[i]!;
      if (op.e < best) break;
      if (op.status === 'ok' && op.s > best && this.affects(op, u)) best = op.s;
    }
    return best;
  }

  // ------------------------------------------------------------------ read-lastRead bounds

  /** Lower/upper bounds of the value a "newest" read-marker write (or a join) set. */
  lrValue(c: Conv, w: LRWrite): { lo: number; hi: number } {
    if (w.explicit !== undefined) return { lo: w.explicit, hi: w.explicit };
    let lo = 0;
    let hi = 0;
    for (const m of c.messages) {
      if (m.post.status === 'ok' && m.post.e < w.op.s) lo = Math.max(lo, m.id!);
      if (mayApply(m.post) && m.post.s < w.op.e) hi = Math.max(hi, m.id!);
    }
    for (const m of c.unresolvedPosts) if (mayApply(m.post) && m.post.s < w.op.e) hi = Infinity;
    return { lo, hi };
  }
}

/** What one read (reader u, window [S, R]) must and may reflect. */
export class ReadView {
  readonly tlo: number;

  constructor(
    readonly world: World,
    readonly u: string,
    readonly S: number,
    readonly R: number,
  ) {
    this.tlo = world.tlo(u, S);
  }

  /** Must this acknowledged write be reflected by this read? */
  must(op: Op): boolean {
    return op.status === 'ok' && op.e < this.S && (op.e < this.tlo || this.world.affects(op, this.u));
  }

  values<V>(reg: Register<V>): Set<V> {
    return allowedValues(reg, (w) => acked(w) && this.must(w.op), this.R);
  }

  /** Bounds of u's read marker in c at the snapshot. */
  lastReadBounds(c: Conv): { lo: number; hi: number } {
    let lo = 0;
    let hi = 0;
    for (const w of c.lastRead.get(this.u) ?? []) {
      if (!mayApply(w.op)) continue;
      const v = this.world.lrValue(c, w);
      if (w.certain && this.must(w.op)) lo = Math.max(lo, v.lo);
      if (w.op.s < this.R) hi = Math.max(hi, v.hi);
    }
    return { lo, hi };
  }
}
