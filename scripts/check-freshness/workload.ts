/**
 * The randomized workload: writers send every write route of the contract, chosen by a seeded PRNG
 * from what the model believes possible; readers read lists from random instances. Each write's
 * effects are recorded in the model *before* it is sent; its answer is judged later, once every write
 * that overlapped it has answered (see `expectations`).
 */
import type { Queryable } from '../../src/db/index.js';
import { hashPassword } from '../../src/domain/auth/passwords.js';
import { createTokenService } from '../../src/domain/auth/tokens.js';
import type { CheckOutcome, ReadRecord, Violation } from './checker.js';
import { checkRead } from './checker.js';
import { dbValues, tri, type Op, type OpKind, type Tri } from './history.js';
import type { Balancer } from './balancer.js';
import type { TimedClient, TimedResponse } from './http.js';
import type { WriteTiming } from './latency.js';
import { type Conv, type MUser, type World } from './model.js';
import type { Prng } from '../../support/prng.js';

export const ROUTES = {
  register: 'POST /api/v1/auth/register',
  login: 'POST /api/v1/auth/login',
  profile: 'PATCH /api/v1/users/me',
  create: 'POST /api/v1/conversations',
  rename: 'PATCH /api/v1/conversations/:id',
  deleteConv: 'DELETE /api/v1/conversations/:id',
  addMember: 'POST /api/v1/conversations/:id/members',
  removeMember: 'DELETE /api/v1/conversations/:id/members/:userId',
  join: 'POST /api/v1/conversations/:id/join',
  read: 'POST /api/v1/conversations/:id/read',
  post: 'POST /api/v1/conversations/:id/messages',
  edit: 'PATCH /api/v1/conversations/:id/messages/:messageId',
  deleteMsg: 'DELETE /api/v1/conversations/:id/messages/:messageId',
  clearCache: 'DELETE /api/v1/admin/cache',
} as const;

export const PASSWORD = 'password-123';
const V1 = '/api/v1';

/** Relative frequency of each write. `invalid*` are writes the model expects to be refused (4xx). */
export const WEIGHTS = {
  post: 30,
  read: 12,
  edit: 7,
  deleteMsg: 6,
  profile: 5,
  rename: 5,
  addMember: 5,
  removeMember: 3,
  leave: 4,
  join: 5,
  createGroup: 3,
  createPublic: 1.5,
  createDirect: 4,
  deleteConv: 1.5,
  login: 0.4,
  clearCache: 0.3,
  invalid: 3,
} as const;
export type WriteChoice = keyof typeof WEIGHTS;

export interface Stats {
  writes: number;
  writes2xx: number;
  writes503: number;
  writes4xxExpected: number;
  /** Writes an instance shutting down refused (503) or left unanswered: never acknowledged. */
  writesRefusedStopping: number;
  writesUnexpected: number;
  byRoute: Map<string, { sent: number; ok: number }>;
  reads: number;
  readsChecked: number;
  read5xx: number;
  read503Tolerated: number;
  /** Reads an instance shutting down (restart) refused or left unanswered: not its failure, never checked. */
  readsRefusedStopping: number;
  readOther: number;
  facts: number;
  violations: Violation[];
  unexpectedWrites: string[];
  readFailures: string[];
  checkerErrors: string[];
  xcache: Map<string, number>;
  /** Every write answered with a 2xx but logins and registrations: when it was sent, how long it took. */
  writeTimings: WriteTiming[];
}

export function newStats(): Stats {
  return {
    writes: 0,
    writes2xx: 0,
    writes503: 0,
    writes4xxExpected: 0,
    writesRefusedStopping: 0,
    writesUnexpected: 0,
    byRoute: new Map(),
    reads: 0,
    readsChecked: 0,
    read5xx: 0,
    read503Tolerated: 0,
    readsRefusedStopping: 0,
    readOther: 0,
    facts: 0,
    violations: [],
    unexpectedWrites: [],
    readFailures: [],
    checkerErrors: [],
    xcache: new Map(),
    writeTimings: [],
  };
}

/** Expected statuses: walk the route's checks in the order the code makes them. */
function chain(checks: Array<[Tri, number]>, success: number[]): Set<number> {
  const out = new Set<number>();
  for (const [t, fail] of checks) {
    if (t === 'no') {
      out.add(fail);
      return out;
    }
    if (t === 'maybe') out.add(fail);
  }
  for (const s of success) out.add(s);
  return out;
}

const yes = (b: boolean): Tri => (b ? 'yes' : 'no');

export interface WorkloadOptions {
  maxConvsPerUser: number;
  adminToken: string;
  adminUsername: string;
  /** Is a 5xx on a read with this window tolerated (pg-terminate: its connection may have been killed)? */
  readFaultTolerated: (S: number, R: number, status: number) => boolean;
  t0: number;
}

export class Workload {
  readonly readQueue: ReadRecord[] = [];
  readonly statusQueue: Array<{ op: Op; expect: () => Set<number> }> = [];
  readonly userList: MUser[] = [];
  /** Writes that got no answer or a 503 from an instance while it was shutting down. */
  private readonly refusedByStopping = new WeakSet<Op>();

  constructor(
    readonly world: World,
    readonly balancer: Balancer,
    readonly stats: Stats,
    readonly opts: WorkloadOptions,
  ) {}

  // ------------------------------------------------------------------ beliefs (for choosing ops)

  private now(): number {
    return performance.now();
  }

  possiblyIn(c: Conv, u: string): boolean {
    return dbValues(this.world.member(c, u), this.now(), Infinity).has('in');
  }

  certainlyIn(c: Conv, u: string): boolean {
    return tri(dbValues(this.world.member(c, u), this.now(), Infinity), 'in') === 'yes';
  }

  certainlyOut(c: Conv, u: string): boolean {
    return tri(dbValues(this.world.member(c, u), this.now(), Infinity), 'out') === 'yes';
  }

  possiblyAdmin(c: Conv, u: string): boolean {
    const v = dbValues(this.world.roleReg(c, u), this.now(), Infinity);
    return v.has('admin') || v.has('?');
  }

  certainlyMemberRole(c: Conv, u: string): boolean {
    const v = dbValues(this.world.roleReg(c, u), this.now(), Infinity);
    return v.size === 1 && v.has('member');
  }

  possiblyLive(c: Conv, id: number): boolean {
    const m = c.byId.get(id)!;
    return dbValues(m.live, this.now(), Infinity).has('live');
  }

  /** Conversations u may be in, plus creates naming u that are still open. */
  load(u: MUser): number {
    let n = 0;
    for (const c of u.convs) if (this.possiblyIn(c, u.id)) n++;
    for (const op of this.world.unresolvedCreates) if (op.status !== 'rejected' && op.members?.includes(u.id)) n++;
    return n;
  }

  hasRoom(u: MUser): boolean {
    return this.load(u) < this.opts.maxConvsPerUser;
  }

  private pickConv(rng: Prng, u: MUser, filter: (c: Conv) => boolean): Conv | undefined {
    const list = [...u.convs].filter(filter);
    return rng.pickOrUndefined(list);
  }

  // ------------------------------------------------------------------ atoms at a write's commit

  private inAt(c: Conv, u: string, op: Op): Tri {
    return tri(this.world.memberAt(c, u, op.s, op.e, op), 'in');
  }

  private outAt(c: Conv, u: string, op: Op): Tri {
    return tri(this.world.memberAt(c, u, op.s, op.e, op), 'out');
  }

  private adminAt(c: Conv, u: string, op: Op): Tri {
    const v = dbValues(this.world.roleReg(c, u), op.s, op.e, op);
    if (v.size === 1 && v.has('admin')) return 'yes';
    if (!v.has('admin') && !v.has('?')) return 'no';
    return 'maybe';
  }

  private liveAt(c: Conv, id: number, op: Op): Tri {
    return tri(dbValues(c.byId.get(id)!.live, op.s, op.e, op), 'live');
  }

  // ------------------------------------------------------------------ sending

  private async send(
    op: Op,
    rng: Prng,
    method: string,
    path: string,
    token: string,
    body: unknown,
    expect: () => Set<number>,
    onAnswer?: (res: TimedResponse) => void,
  ): Promise<TimedResponse> {
    const inst = this.balancer.route(rng.int(0, this.balancer.size - 1));
    op.instance = inst;
    this.stats.writes++;
    const r = this.stats.byRoute.get(op.route) ?? { sent: 0, ok: 0 };
    r.sent++;
    this.stats.byRoute.set(op.route, r);
    const res = await this.balancer.client(inst).request(method, path, token, body);
    this.world.complete(op, res.status, res.doneAt);
    if ((res.status === 0 || res.status === 503) && this.balancer.wasStopping(inst, res.sentAt, res.doneAt)) this.refusedByStopping.add(op);
    if (res.status >= 200 && res.status < 300) {
      r.ok++;
      // Password hashing would dominate these (it is CPU, not the cache).
      if (op.route !== ROUTES.login && op.route !== ROUTES.register) this.stats.writeTimings.push({ sentAt: res.sentAt, ms: res.doneAt - res.sentAt });
    }
    onAnswer?.(res);
    this.statusQueue.push({ op, expect });
    return res;
  }

  // ------------------------------------------------------------------ setup

  async registerUser(rng: Prng, username: string, displayName: string): Promise<MUser> {
    const op = this.world.newOp('register', ROUTES.register, '0', 0, `register ${username}`);
    const res = await this.send(op, rng, 'POST', `${V1}/auth/register`, '', { username, password: PASSWORD, displayName }, () => new Set([201]));
    if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${res.text}`);
    const d = res.body.data;
    op.actor = d.user.id;
    const u = this.world.addUser(d.user.id, d.user.username, d.token, displayName);
    this.userList.push(u);
    return u;
  }

  /**
   * Users inserted straight into the database, with tokens signed by the service's secret: scrypt on a
   * loaded machine makes registering dozens of users through the API take longer than the whole load.
   * (The register route itself is exercised by registerUser.) They count as existing before the load.
   */
  async insertUsers(db: Queryable, jwtSecret: string, names: string[]): Promise<MUser[]> {
    const hash = await hashPassword(PASSWORD);
    const tokens = createTokenService(jwtSecret, 7 * 24 * 3600);
    const { rows } = await db.query<{ id: string; username: string; display_name: string }>(
      `INSERT INTO users (username, password_hash, display_name)
       SELECT n, $2, 'User ' || n FROM unnest($1::text[]) AS n
       RETURNING id::text, username, display_name`,
      [names, hash],
    );
    return rows.map((r) => {
      const u = this.world.addUser(r.id, r.username, tokens.sign({ sub: r.id, username: r.username }), r.display_name);
      this.userList.push(u);
      return u;
    });
  }

  /** Runs one write of the given kind (or a fallback when it has no candidate). Returns the op sent. */
  async write(choice: WriteChoice, rng: Prng, u: MUser): Promise<Op | undefined> {
    switch (choice) {
      case 'post':
        return this.post(rng, u);
      case 'read':
        return this.markRead(rng, u);
      case 'edit':
        return (await this.edit(rng, u, false)) ?? this.post(rng, u);
      case 'deleteMsg':
        return (await this.deleteMsg(rng, u)) ?? this.post(rng, u);
      case 'profile':
        return this.profile(rng, u);
      case 'rename':
        return (await this.rename(rng, u, false)) ?? this.post(rng, u);
      case 'addMember':
        return (await this.addMember(rng, u, false)) ?? this.post(rng, u);
      case 'removeMember':
        return (await this.removeMember(rng, u)) ?? this.post(rng, u);
      case 'leave':
        return (await this.leave(rng, u)) ?? this.post(rng, u);
      case 'join':
        return (await this.join(rng, u, false)) ?? this.createPublic(rng, u);
      case 'createGroup':
        return this.createGroup(rng, u);
      case 'createPublic':
        return this.createPublic(rng, u);
      case 'createDirect':
        return this.createDirect(rng, u);
      case 'deleteConv':
        return (await this.deleteConv(rng, u)) ?? this.post(rng, u);
      case 'login':
        return this.login(rng, u);
      case 'clearCache':
        return this.clearCache(rng);
      case 'invalid':
        return this.invalid(rng, u);
    }
  }

  // ------------------------------------------------------------------ writes

  async post(rng: Prng, u: MUser, conv?: Conv): Promise<Op | undefined> {
    const c = conv ?? this.pickConv(rng, u, (c) => this.possiblyIn(c, u.id));
    if (!c) return this.createGroup(rng, u);
    return this.postTo(rng, u, c);
  }

  private async postTo(rng: Prng, u: MUser, c: Conv): Promise<Op> {
    const op = this.world.newOp('post', ROUTES.post, u.id, -1, '');
    const content = `m${op.id} from ${u.id}`;
    op.desc = `post "${content}" by ${u.id} in ${c.id}`;
    const m = this.world.postSent(op, c, content);
    await this.send(op, rng, 'POST', `${V1}/conversations/${c.id}/messages`, u.token, { content }, () => chain([[this.inAt(c, u.id, op), 404]], [201]), (res) => {
      if (res.status === 201) this.world.resolvePost(m, Number(res.body.data.id));
      else if (res.status >= 400 && res.status < 500) this.world.dropPost(m);
    });
    return op;
  }

  async markRead(rng: Prng, u: MUser): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => this.possiblyIn(c, u.id));
    if (!c) return this.profile(rng, u);
    const recent = c.messages.slice(-5);
    const explicit = rng.bool(0.4) ? rng.pickOrUndefined(recent)?.id : undefined;
    const op = this.world.newOp('read', ROUTES.read, u.id, -1, `read-marker by ${u.id} in ${c.id} up to ${explicit ?? 'newest'}`);
    this.world.readSent(op, c, explicit);
    const body = explicit === undefined ? (rng.bool(0.5) ? {} : undefined) : { messageId: String(explicit) };
    await this.send(op, rng, 'POST', `${V1}/conversations/${c.id}/read`, u.token, body, () => chain([[this.inAt(c, u.id, op), 404]], [200]));
    return op;
  }

  async edit(rng: Prng, u: MUser, othersMessage: boolean): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => this.possiblyIn(c, u.id) && c.messages.some((m) => (m.sender === u.id) !== othersMessage));
    if (!c) return undefined;
    const mine = c.messages.filter((m) => (m.sender === u.id) !== othersMessage && this.possiblyLive(c, m.id!));
    const m = rng.pickOrUndefined(mine.slice(-6));
    if (!m) return undefined;
    const op = this.world.newOp('edit', ROUTES.edit, u.id, -1, '');
    const content = `e${op.id} from ${u.id}`;
    op.desc = `edit ${m.id} → "${content}" by ${u.id} in ${c.id}`;
    this.world.editSent(op, m, content);
    const id = m.id!;
    await this.send(op, rng, 'PATCH', `${V1}/conversations/${c.id}/messages/${id}`, u.token, { content }, () =>
      chain([[this.inAt(c, u.id, op), 404], [this.liveAt(c, id, op), 404], [yes(m.sender === u.id), 403]], [200]),
    );
    return op;
  }

  async deleteMsg(rng: Prng, u: MUser): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => this.possiblyIn(c, u.id) && c.messages.length > 0);
    if (!c) return undefined;
    const admin = this.possiblyAdmin(c, u.id);
    const cands = c.messages.filter((m) => (m.sender === u.id || admin) && this.possiblyLive(c, m.id!));
    // Mostly the newest messages: deleting the last one moves lastMessage back.
    const m = rng.pickOrUndefined(cands.slice(-4));
    if (!m) return undefined;
    const id = m.id!;
    const op = this.world.newOp('deleteMsg', ROUTES.deleteMsg, u.id, -1, `delete message ${id} by ${u.id} in ${c.id}`);
    this.world.deleteMsgSent(op, m);
    await this.send(op, rng, 'DELETE', `${V1}/conversations/${c.id}/messages/${id}`, u.token, undefined, () =>
      chain([[this.inAt(c, u.id, op), 404], [this.liveAt(c, id, op), 404], [m.sender === u.id ? 'yes' : this.adminAt(c, u.id, op), 403]], [200]),
    );
    return op;
  }

  async profile(rng: Prng, u: MUser): Promise<Op> {
    const op = this.world.newOp('profile', ROUTES.profile, u.id, -1, '');
    const displayName = `N${op.id} of ${u.id}`;
    const avatar = rng.bool(0.3) ? `https://img.example/${op.id}.png` : null;
    op.desc = `profile of ${u.id} → "${displayName}", ${avatar}`;
    this.world.profileSent(op, u, displayName, avatar);
    await this.send(op, rng, 'PATCH', `${V1}/users/me`, u.token, { displayName, avatar }, () => new Set([200]));
    return op;
  }

  async rename(rng: Prng, u: MUser, notAdmin: boolean): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) =>
      notAdmin ? this.certainlyIn(c, u.id) && this.certainlyMemberRole(c, u.id) : c.type !== 'direct' && this.possiblyIn(c, u.id) && this.possiblyAdmin(c, u.id),
    );
    if (!c) return undefined;
    const op = this.world.newOp('rename', ROUTES.rename, u.id, -1, '');
    const title = `T${op.id}`;
    const avatar = rng.bool(0.3) ? `https://img.example/c${op.id}.png` : null;
    op.desc = `rename ${c.id} → "${title}", ${avatar} by ${u.id}`;
    this.world.renameSent(op, c, title, avatar);
    await this.send(op, rng, 'PATCH', `${V1}/conversations/${c.id}`, u.token, { title, avatar }, () =>
      chain([[this.inAt(c, u.id, op), 404], [yes(c.type !== 'direct'), 403], [this.adminAt(c, u.id, op), 403]], [200]),
    );
    return op;
  }

  async deleteConv(rng: Prng, u: MUser): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => c.type !== 'direct' && this.possiblyIn(c, u.id) && this.possiblyAdmin(c, u.id));
    if (!c) return undefined;
    const op = this.world.newOp('deleteConv', ROUTES.deleteConv, u.id, -1, `delete conversation ${c.id} by ${u.id}`);
    this.world.deleteConvSent(op, c);
    await this.send(op, rng, 'DELETE', `${V1}/conversations/${c.id}`, u.token, undefined, () =>
      chain([[this.inAt(c, u.id, op), 404], [this.adminAt(c, u.id, op), 403]], [200]),
    );
    return op;
  }

  async addMember(rng: Prng, u: MUser, existing: boolean): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => c.type !== 'direct' && this.possiblyIn(c, u.id) && this.possiblyAdmin(c, u.id));
    if (!c) return undefined;
    const cands = this.userList.filter((x) =>
      existing ? x.id !== u.id && this.certainlyIn(c, x.id) : !this.possiblyIn(c, x.id) && this.hasRoom(x),
    );
    const x = rng.pickOrUndefined(cands);
    if (!x) return undefined;
    const op = this.world.newOp('addMember', ROUTES.addMember, u.id, -1, `add ${x.id} to ${c.id} by ${u.id}`);
    this.world.addMemberSent(op, c, x.id);
    await this.send(op, rng, 'POST', `${V1}/conversations/${c.id}/members`, u.token, { userId: x.id }, () =>
      chain(
        [[this.inAt(c, u.id, op), 404], [yes(c.type !== 'direct'), 403], [this.adminAt(c, u.id, op), 403], [this.outAt(c, x.id, op), 409]],
        [200],
      ),
    );
    return op;
  }

  async removeMember(rng: Prng, u: MUser): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => c.type !== 'direct' && this.possiblyIn(c, u.id) && this.possiblyAdmin(c, u.id));
    if (!c) return undefined;
    const x = rng.pickOrUndefined([...c.members.keys()].filter((x) => x !== u.id && this.possiblyIn(c, x)));
    if (!x) return undefined;
    const op = this.world.newOp('removeMember', ROUTES.removeMember, u.id, -1, `remove ${x} from ${c.id} by ${u.id}`);
    this.world.removeSent(op, c, x);
    await this.send(op, rng, 'DELETE', `${V1}/conversations/${c.id}/members/${x}`, u.token, undefined, () =>
      chain([[this.inAt(c, u.id, op), 404], [yes(c.type !== 'direct'), 403], [this.adminAt(c, u.id, op), 403], [this.inAt(c, x, op), 404]], [200]),
    );
    return op;
  }

  async leave(rng: Prng, u: MUser): Promise<Op | undefined> {
    const c = this.pickConv(rng, u, (c) => this.possiblyIn(c, u.id));
    if (!c) return undefined;
    const op = this.world.newOp('leave', ROUTES.removeMember, u.id, -1, `leave ${c.id} (${c.type}) by ${u.id}`);
    this.world.removeSent(op, c, u.id);
    await this.send(op, rng, 'DELETE', `${V1}/conversations/${c.id}/members/${u.id}`, u.token, undefined, () =>
      chain([[this.inAt(c, u.id, op), 404]], [200]),
    );
    return op;
  }

  async join(rng: Prng, u: MUser, already: boolean): Promise<Op | undefined> {
    const pubs = [...this.world.convs.values()].filter(
      (c) =>
        c.type === 'public' &&
        dbValues(c.exists, this.now(), Infinity).has('yes') &&
        (already ? this.certainlyIn(c, u.id) : !this.possiblyIn(c, u.id)),
    );
    const c = rng.pickOrUndefined(pubs);
    if (!c || (!already && !this.hasRoom(u))) return undefined;
    const op = this.world.newOp('join', ROUTES.join, u.id, -1, `join ${c.id} by ${u.id}`);
    this.world.joinSent(op, c);
    await this.send(op, rng, 'POST', `${V1}/conversations/${c.id}/join`, u.token, undefined, () =>
      chain([[tri(dbValues(c.exists, op.s, op.e, op), 'yes'), 404], [this.outAt(c, u.id, op), 409]], [200]),
    );
    return op;
  }

  private async create(rng: Prng, u: MUser, type: 'group' | 'public', others: MUser[]): Promise<Op> {
    const kind: OpKind = type === 'group' ? 'createGroup' : 'createPublic';
    const op = this.world.newOp(kind, ROUTES.create, u.id, -1, '');
    const title = `${type === 'group' ? 'G' : 'P'}${op.id}`;
    op.title = title;
    op.members = [u.id, ...others.map((o) => o.id)];
    op.desc = `create ${type} "${title}" by ${u.id} with ${op.members.join(',')}`;
    this.world.unresolvedCreates.add(op);
    await this.send(op, rng, 'POST', `${V1}/conversations`, u.token, { type, title, memberIds: others.map((o) => o.id) }, () => new Set([201]), (res) => {
      if (res.status === 201) {
        op.convId = res.body.data.id;
        this.world.createdConv(op, res.body.data.id, type, title, op.members!);
        this.world.unresolvedCreates.delete(op);
      } else if (res.status >= 400 && res.status < 500) this.world.unresolvedCreates.delete(op);
    });
    return op;
  }

  async createGroup(rng: Prng, u: MUser): Promise<Op | undefined> {
    if (!this.hasRoom(u)) return this.profile(rng, u);
    const others = rng.sample(this.userList.filter((x) => x !== u && this.hasRoom(x)), rng.int(1, 4));
    if (others.length === 0) return this.profile(rng, u);
    return this.create(rng, u, 'group', others);
  }

  async createPublic(rng: Prng, u: MUser): Promise<Op | undefined> {
    if (!this.hasRoom(u)) return this.profile(rng, u);
    const others = rng.sample(this.userList.filter((x) => x !== u && this.hasRoom(x)), rng.int(0, 2));
    return this.create(rng, u, 'public', others);
  }

  async createDirect(rng: Prng, u: MUser): Promise<Op | undefined> {
    const v = rng.pickOrUndefined(this.userList.filter((x) => x !== u && (this.hasRoom(x) || this.hasRoom(u))));
    if (!v || !this.hasRoom(u) || !this.hasRoom(v)) return this.profile(rng, u);
    const op = this.world.newOp('createDirect', ROUTES.create, u.id, -1, `create direct ${u.id}+${v.id}`);
    this.world.directSent(op, u.id, v.id);
    await this.send(op, rng, 'POST', `${V1}/conversations`, u.token, { type: 'direct', memberIds: [v.id] }, () => new Set([200, 201]), (res) => {
      if (res.status === 200 || res.status === 201) this.world.directAnswered(op, res.body.data.id, res.status === 201);
    });
    return op;
  }

  async login(rng: Prng, u: MUser): Promise<Op> {
    const op = this.world.newOp('login', ROUTES.login, u.id, -1, `login ${u.username}`);
    await this.send(op, rng, 'POST', `${V1}/auth/login`, '', { username: u.username, password: PASSWORD }, () => new Set([200]));
    return op;
  }

  async clearCache(rng: Prng): Promise<Op> {
    const op = this.world.newOp('clearCache', ROUTES.clearCache, '0', -1, 'admin cache clear');
    await this.send(op, rng, 'DELETE', `${V1}/admin/cache`, this.opts.adminToken, undefined, () => new Set([200]));
    return op;
  }

  /** A write the model expects to be refused: the answer must be that 4xx, and nothing may change. */
  async invalid(rng: Prng, u: MUser): Promise<Op | undefined> {
    const kind = rng.pick(['postGone', 'renameNotAdmin', 'joinAgain', 'addExisting', 'editOthers'] as const);
    switch (kind) {
      case 'postGone': {
        const c = this.pickConv(rng, u, (c) => this.certainlyOut(c, u.id));
        return c ? this.postTo(rng, u, c) : undefined;
      }
      case 'renameNotAdmin':
        return this.rename(rng, u, true);
      case 'joinAgain':
        return this.join(rng, u, true);
      case 'addExisting':
        return this.addMember(rng, u, true);
      case 'editOthers':
        return this.edit(rng, u, true);
    }
  }

  // ------------------------------------------------------------------ reads

  async readList(rng: Prng, u: MUser, instance?: number, limit?: number): Promise<void> {
    const inst = this.balancer.route(instance ?? rng.int(0, this.balancer.size - 1));
    const lim = limit ?? (rng.bool(0.85) ? 100 : 5);
    const query = `limit=${lim}`;
    this.stats.reads++;
    const res = await this.balancer.client(inst).request('GET', `${V1}/conversations?${query}`, u.token);
    const xc = res.headers?.get('x-cache') ?? String(res.status);
    this.stats.xcache.set(xc, (this.stats.xcache.get(xc) ?? 0) + 1);
    if (res.status === 200) {
      this.readQueue.push({ user: u.id, instance: inst, query, limit: lim, S: res.sentAt, R: res.doneAt, status: 200, body: res.body, xcache: res.headers?.get('x-cache') ?? null });
      return;
    }
    const at = `${Math.round(res.sentAt - this.opts.t0)}–${Math.round(res.doneAt - this.opts.t0)} ms`;
    if (res.status >= 500 || res.status === 0) {
      if ((res.status === 0 || res.status === 503) && this.balancer.wasStopping(inst, res.sentAt, res.doneAt)) this.stats.readsRefusedStopping++;
      else if (this.opts.readFaultTolerated(res.sentAt, res.doneAt, res.status)) this.stats.read503Tolerated++;
      else {
        this.stats.read5xx++;
        if (this.stats.readFailures.length < 20) this.stats.readFailures.push(`GET ?${query} as ${u.id} on instance ${inst} at ${at}: ${res.status} ${res.error ?? res.text.slice(0, 200)}`);
      }
    } else {
      this.stats.readOther++;
      if (this.stats.readFailures.length < 20) this.stats.readFailures.push(`GET ?${query} as ${u.id} on instance ${inst} at ${at}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  }

  /** After a write's 2xx: a read by a user it affects, usually on another instance. */
  async readAfter(rng: Prng, op: Op): Promise<void> {
    let readerId = op.actor;
    const c = op.convId !== undefined ? this.world.convs.get(op.convId) : undefined;
    if (c && rng.bool(0.7)) {
      const members = [...c.members.keys()].filter((x) => this.possiblyIn(c, x) || x === op.target);
      readerId = rng.pickOrUndefined(members) ?? readerId;
    } else if (op.kind === 'profile' && rng.bool(0.7)) {
      const u = this.world.users.get(op.actor)!;
      const co = [...u.convs].flatMap((cc) => [...cc.members.keys()]);
      readerId = rng.pickOrUndefined(co) ?? readerId;
    }
    const reader = this.world.users.get(readerId);
    if (!reader) return;
    let inst = rng.int(0, this.balancer.size - 1);
    if (this.balancer.size > 1 && inst === op.instance && rng.bool(0.7)) inst = (inst + 1) % this.balancer.size;
    await this.readList(rng, reader, inst, 100);
  }

  // ------------------------------------------------------------------ checking

  /**
   * Judges reads and write statuses whose every overlapping write has answered (all of them when
   * `force`), for at most `budgetMs`.
   */
  pump(force: boolean, budgetMs: number): void {
    const deadline = performance.now() + budgetMs;
    const minPending = force ? Infinity : this.world.minPendingS();
    const keepStatus: typeof this.statusQueue = [];
    for (const item of this.statusQueue) {
      if ((!force && performance.now() > deadline) || item.op.e >= minPending) keepStatus.push(item);
      else this.judgeStatus(item.op, item.expect());
    }
    this.statusQueue.length = 0;
    this.statusQueue.push(...keepStatus);
    const keep: ReadRecord[] = [];
    for (const rec of this.readQueue) {
      if ((!force && performance.now() > deadline) || rec.R >= minPending) keep.push(rec);
      else this.judgeRead(rec);
    }
    this.readQueue.length = 0;
    this.readQueue.push(...keep);
  }

  private judgeStatus(op: Op, expected: Set<number>): void {
    op.expected = [...expected];
    const s = op.http;
    if (s >= 200 && s < 300 && expected.has(s)) this.stats.writes2xx++;
    else if (this.refusedByStopping.has(op)) this.stats.writesRefusedStopping++;
    else if (s === 503) this.stats.writes503++;
    else if (s >= 400 && s < 500 && expected.has(s)) this.stats.writes4xxExpected++;
    else {
      this.stats.writesUnexpected++;
      if (this.stats.unexpectedWrites.length < 30) {
        this.stats.unexpectedWrites.push(
          `#${op.id} ${op.route} (${op.desc}) on instance ${op.instance}: ${s || 'no answer'}, expected ${[...expected].join('|')} or 503 [${Math.round(op.s - this.opts.t0)}–${Math.round(op.e - this.opts.t0)} ms]`,
        );
      }
    }
  }

  private judgeRead(rec: ReadRecord): void {
    let out: CheckOutcome;
    try {
      out = checkRead(this.world, rec, this.opts.t0);
    } catch (err) {
      // A bug of the checker itself must fail the run, never crash it or pass silently.
      this.stats.checkerErrors.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
      return;
    }
    this.stats.readsChecked++;
    this.stats.facts += out.facts;
    for (const v of out.violations) this.stats.violations.push(v);
  }
}
