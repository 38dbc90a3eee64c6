/**
 * Checks one conversation-list read against the model (see model.ts for "must reflect").
 *
 * Facts checked, per read of user U with window [S, R] (each is decidable from the write windows; a
 * fact is "exact" when only one value is allowed, otherwise the observed value must be in the set):
 *  F1 membership   a listed conversation may contain U at the snapshot; on a complete list (offset 0,
 *                  no next page), a conversation that must not contain U is absent
 *  F2 lastMessage  the id is not older than the newest message that must be live at the snapshot
 *                  (posted, acknowledged and owed to U, no delete of it possibly applied), and is a
 *                  message that may be live (not a message whose delete U is owed, not unknown)
 *  F3 content      the last message's content is one its content register allows; editedAt is null
 *                  exactly when it is the content it was posted with
 *  F4 sender       senderId is the author; sender's displayName/avatar allowed by their register
 *  F5 title        group/public: title+avatar allowed by the title register; direct: the other
 *                  member's displayName allowed by their name register
 *  F6 previews     at most 5, = min(5, memberCount); every previewed user may be a member, with an
 *                  allowed name; when at most 5 users may be members, every certain member is shown
 *  F7 memberCount  between the number of certain members and the number of possible members
 *  F8 unreadCount  between the certain and the possible number of live messages from others above the
 *                  read marker (marker bounds: markers and (re)joins owed to U / possibly applied)
 *  F9 order        sorted by coalesce(lastMessageAt, createdAt) desc, id desc; lastMessageAt is the last
 *                  message's createdAt
 *  F10 pagination  data.length = min(total, limit), hasMore = total > limit; on a complete list, total
 *                  between the certain and the possible number of conversations of U
 * Conversations whose id the model never learned (a create answered 503) may be listed only for their
 * possible members, with the title that create sent.
 */
import type { Op, Register } from './history.js';
import { mayApply } from './history.js';
import { nameValue, ReadView, titleValue, type Conv, type Msg, type World } from './model.js';

export interface ReadRecord {
  user: string;
  instance: number;
  query: string;
  limit: number;
  S: number;
  R: number;
  status: number;
  body: any;
  xcache: string | null;
}

export interface Violation {
  fact: string;
  message: string;
  reader: string;
  instance: number;
  xcache: string | null;
  query: string;
  /** Read window, ms since the run's start. */
  sentAtMs: number;
  doneAtMs: number;
  conversationId?: string | undefined;
  observed?: unknown;
  allowed?: unknown;
  /** The writes of the register concerned, timed relative to the read's S. */
  writes?: string[] | undefined;
}

export interface CheckOutcome {
  facts: number;
  violations: Violation[];
}

const sortKey = (item: any): string => item.lastMessageAt ?? item.createdAt;

function describeWrites<V>(view: ReadView, reg: Register<V>, limit = 8): string[] {
  return reg.writes.slice(-limit).map((w) => {
    const rel = (t: number) => (t === Infinity ? '∞' : `${(t - view.S).toFixed(1)}`);
    const must = w.op.status === 'ok' && w.certain && view.must(w.op);
    return `#${w.op.id} ${w.op.desc} → ${JSON.stringify(w.value)} [s=${rel(w.op.s)} e=${rel(w.op.e)} ms rel. to read] ${w.op.http || w.op.status}${w.certain ? '' : ' (uncertain)'}${must ? ' MUST' : ''} inst=${w.op.instance}`;
  });
}

export function checkRead(world: World, rec: ReadRecord, t0: number): CheckOutcome {
  const view = new ReadView(world, rec.user, rec.S, rec.R);
  const out: CheckOutcome = { facts: 0, violations: [] };
  const base = {
    reader: rec.user,
    instance: rec.instance,
    xcache: rec.xcache,
    query: rec.query,
    sentAtMs: Math.round(rec.S - t0),
    doneAtMs: Math.round(rec.R - t0),
  };
  const fail = (fact: string, message: string, extra: Partial<Violation> = {}) => out.violations.push({ fact, message, ...base, ...extra });
  const fact = (ok: boolean, name: string, message: () => string, extra: () => Partial<Violation> = () => ({})) => {
    out.facts++;
    if (!ok) fail(name, message(), extra());
  };

  const body = rec.body;
  if (!body || body.success !== true || !Array.isArray(body.data) || typeof body.pagination !== 'object') {
    fail('shape', 'list response is not { success: true, data: [], pagination }', { observed: body });
    return out;
  }
  const data: any[] = body.data;
  const pg = body.pagination;
  const user = world.users.get(rec.user)!;

  // F9 order and lastMessageAt.
  for (let i = 0; i < data.length; i++) {
    const it = data[i];
    fact(
      (it.lastMessageAt ?? null) === (it.lastMessage?.createdAt ?? null),
      'F9 order',
      () => `lastMessageAt ${it.lastMessageAt} is not the last message's createdAt ${it.lastMessage?.createdAt}`,
      () => ({ conversationId: it.id }),
    );
    if (i > 0) {
      const a = data[i - 1];
      const ka = sortKey(a);
      const kb = sortKey(it);
      const ordered = ka > kb || (ka === kb && BigInt(a.id) > BigInt(it.id));
      fact(ordered, 'F9 order', () => `item ${a.id} (${ka}) is listed before ${it.id} (${kb})`);
    }
  }

  // F10 pagination.
  const offset = Number(pg.offset);
  fact(
    data.length === Math.max(0, Math.min(pg.total - offset, rec.limit)) && pg.hasMore === pg.total > offset + rec.limit,
    'F10 pagination',
    () => `data.length ${data.length}, total ${pg.total}, hasMore ${pg.hasMore} for limit ${rec.limit}`,
  );
  const complete = offset === 0 && pg.hasMore === false;

  const shown = new Set<string>();
  for (const item of data) {
    shown.add(item.id);
    const c = world.convs.get(item.id);
    if (!c) {
      fact(phantomAllowed(world, rec, item), 'F1 membership', () => `conversation ${item.id} (${item.type} "${item.title}") is unknown to the model and no create that could have made it is open`, () => ({ conversationId: item.id, observed: item }));
      continue;
    }
    checkItem(world, view, rec, user.id, c, item, fact);
  }

  if (complete) {
    let definite = 0;
    let possible = 0;
    for (const c of user.convs) {
      const v = view.values(world.member(c, rec.user));
      if (v.has('in')) possible++;
      if (v.size === 1 && v.has('in')) definite++;
      if (!shown.has(c.id)) {
        fact(v.has('out'), 'F1 membership', () => `conversation ${c.id} (${c.type}) is missing from the list of ${rec.user}`, () => ({
          conversationId: c.id,
          allowed: [...v],
          writes: describeWrites(view, world.member(c, rec.user)),
        }));
      }
    }
    possible += openCreatesFor(world, rec);
    fact(pg.total >= definite && pg.total <= possible, 'F10 pagination', () => `total ${pg.total} outside [${definite}, ${possible}] (certain, possible conversations)`);
  }
  return out;
}

function phantomAllowed(world: World, rec: ReadRecord, item: any): boolean {
  if (item.type === 'direct') {
    for (const p of world.pairs.values()) {
      if (p.conv) continue;
      if (p.ops.some((o) => mayApply(o) && o.s < rec.R && (o.actor === rec.user || o.target === rec.user))) return true;
    }
    return false;
  }
  for (const op of world.unresolvedCreates) {
    if (mayApply(op) && op.s < rec.R && op.members?.includes(rec.user) && op.title === item.title) return true;
  }
  return false;
}

function openCreatesFor(world: World, rec: ReadRecord): number {
  let n = 0;
  for (const op of world.unresolvedCreates) if (mayApply(op) && op.s < rec.R && op.members?.includes(rec.user)) n++;
  for (const p of world.pairs.values()) {
    if (!p.conv && p.ops.some((o) => mayApply(o) && o.s < rec.R && (o.actor === rec.user || o.target === rec.user))) n++;
  }
  return n;
}

type FactFn = (ok: boolean, name: string, message: () => string, extra?: () => Partial<Violation>) => void;

function checkItem(world: World, view: ReadView, rec: ReadRecord, u: string, c: Conv, item: any, fact: FactFn): void {
  const cid = c.id;
  const at = (extra: () => Partial<Violation> = () => ({})) => () => ({ conversationId: cid, ...extra() });

  // F1: U may be a member.
  const mine = view.values(world.member(c, u));
  fact(mine.has('in'), 'F1 membership', () => `conversation ${cid} is listed but ${u} must not be a member`, at(() => ({ allowed: [...mine], writes: describeWrites(view, world.member(c, u)) })));

  // F5 title.
  if (c.type === 'direct') {
    const other = c.pair![0] === u ? c.pair![1] : c.pair![0];
    const reg = world.users.get(other)!.name;
    const names = new Set([...view.values(reg)].map((v) => (JSON.parse(v) as [string, string | null])[0]));
    fact(names.has(item.title), 'F5 title', () => `direct title "${item.title}" is not an allowed displayName of ${other}`, at(() => ({ observed: item.title, allowed: [...names], writes: describeWrites(view, reg) })));
  } else {
    const v = view.values(c.title);
    const obs = titleValue(item.title, item.avatar);
    fact(v.has(obs), 'F5 title', () => `title/avatar ${obs} not allowed`, at(() => ({ observed: obs, allowed: [...v], writes: describeWrites(view, c.title) })));
  }

  // F7 memberCount, F6 previews.
  let definite = 0;
  let possible = 0;
  const certainMembers: string[] = [];
  const possibleSet = new Set<string>();
  for (const [x, reg] of c.members) {
    const v = view.values(reg);
    if (v.has('in')) {
      possible++;
      possibleSet.add(x);
    }
    if (v.size === 1 && v.has('in')) {
      definite++;
      certainMembers.push(x);
    }
  }
  fact(item.memberCount >= definite && item.memberCount <= possible, 'F7 memberCount', () => `memberCount ${item.memberCount} outside [${definite}, ${possible}]`, at(() => ({ observed: item.memberCount, allowed: [definite, possible] })));
  const previews: any[] = item.members;
  fact(previews.length === Math.min(5, item.memberCount), 'F6 previews', () => `${previews.length} previews for memberCount ${item.memberCount}`, at());
  for (const p of previews) {
    fact(possibleSet.has(p.userId), 'F6 previews', () => `preview shows ${p.userId}, who must not be a member`, at(() => ({ writes: describeWrites(view, world.member(c, p.userId)) })));
    const pu = world.users.get(p.userId);
    if (pu) {
      const v = view.values(pu.name);
      const obs = nameValue(p.user.displayName, p.user.avatar);
      fact(v.has(obs), 'F6 previews', () => `preview name of ${p.userId} ${obs} not allowed`, at(() => ({ observed: obs, allowed: [...v], writes: describeWrites(view, pu.name) })));
    }
  }
  if (possible <= 5) {
    const ids = new Set(previews.map((p) => p.userId));
    const missing = certainMembers.filter((x) => !ids.has(x));
    fact(missing.length === 0, 'F6 previews', () => `certain members ${missing.join(',')} missing from previews`, at());
  }

  // F2 lastMessage (F3 content, F4 sender).
  let defMax: Msg | undefined;
  for (const m of c.messages) {
    const v = view.values(m.live);
    if (v.size === 1 && v.has('live')) defMax = m;
  }
  const lm = item.lastMessage;
  if (lm === null) {
    fact(defMax === undefined, 'F2 lastMessage', () => `lastMessage is null but message ${defMax!.id} must be live`, at(() => ({ writes: describeWrites(view, defMax!.live) })));
  } else {
    const id = Number(lm.id);
    let m = c.byId.get(id);
    if (!m) {
      const other = world.messageIds.get(id);
      if (other) {
        fact(false, 'F2 lastMessage', () => `lastMessage ${id} belongs to conversation ${other.conv.id}`, at());
        return;
      }
      // A post whose answer was lost (503): identified by its unique content.
      const cand = c.unresolvedPosts.find((x) => x.content0 === lm.content && mayApply(x.post) && x.post.s < rec.R);
      if (cand && cand.post.status !== 'pending') {
        world.resolvePost(cand, id);
        m = cand;
      } else {
        fact(false, 'F2 lastMessage', () => `lastMessage ${id} ("${lm.content}") is not a message the workload may have posted in ${cid}`, at(() => ({ observed: lm })));
        return;
      }
    }
    const live = view.values(m.live);
    fact(live.has('live'), 'F2 lastMessage', () => `lastMessage ${id} must not be live`, at(() => ({ allowed: [...live], writes: describeWrites(view, m.live) })));
    fact(defMax === undefined || id >= defMax.id!, 'F2 lastMessage', () => `lastMessage ${id} is older than message ${defMax!.id}, which must be live`, at(() => ({
      observed: id,
      writes: describeWrites(view, defMax!.live),
    })));
    const contents = view.values(m.content);
    fact(contents.has(lm.content), 'F3 content', () => `content "${lm.content}" of message ${id} not allowed`, at(() => ({ observed: lm.content, allowed: [...contents], writes: describeWrites(view, m.content) })));
    fact((lm.editedAt === null) === (lm.content === m.content0), 'F3 content', () => `editedAt ${lm.editedAt} with content "${lm.content}" (posted as "${m.content0}")`, at());
    fact(lm.senderId === m.sender, 'F4 sender', () => `senderId ${lm.senderId}, expected ${m.sender}`, at());
    const su = world.users.get(m.sender);
    if (su) {
      const v = view.values(su.name);
      const obs = nameValue(lm.sender.displayName, lm.sender.avatar);
      fact(v.has(obs), 'F4 sender', () => `sender name ${obs} of ${m.sender} not allowed`, at(() => ({ observed: obs, allowed: [...v], writes: describeWrites(view, su.name) })));
    }
  }

  // F8 unreadCount.
  const lr = view.lastReadBounds(c);
  let lo = 0;
  let hi = 0;
  for (const m of c.messages) {
    if (m.sender === u) continue;
    const v = view.values(m.live);
    if (m.id! > lr.hi && v.size === 1 && v.has('live')) lo++;
    if (m.id! > lr.lo && v.has('live')) hi++;
  }
  for (const m of c.unresolvedPosts) if (m.sender !== u && mayApply(m.post) && m.post.s < rec.R) hi++;
  fact(item.unreadCount >= lo && item.unreadCount <= hi, 'F8 unreadCount', () => `unreadCount ${item.unreadCount} outside [${lo}, ${hi}] (read marker in [${lr.lo}, ${lr.hi}])`, at(() => ({
    observed: item.unreadCount,
    allowed: [lo, hi],
    writes: (c.lastRead.get(u) ?? []).slice(-6).map((w) => describeOp(view, w.op)),
  })));
}

function describeOp(view: ReadView, op: Op): string {
  const rel = (t: number) => (t === Infinity ? '∞' : `${(t - view.S).toFixed(1)}`);
  return `#${op.id} ${op.desc} [s=${rel(op.s)} e=${rel(op.e)}] ${op.http || op.status}${view.must(op) ? ' MUST' : ''}`;
}
