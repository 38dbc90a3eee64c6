import type { Prng } from '../../../support/prng.js';
import { RECENT_MESSAGES } from '../../../src/conversation-list/state.js';
import { awkwardAvatar, awkwardText } from './strings.js';
import { activeMembers, admins, isActive, liveMessages, type PropertyUser, type World, type WorldConversation } from './world.js';

/**
 * Random histories of every write of the contract, driven by one seeded PRNG.
 *
 * The history starts with a fixed set-up (users, a "hot" group, a few conversations), then draws
 * writes at random by weight. Three rules make it reach the states that the cached list handles
 * differently from the SQL list:
 * - the hot group gets a steady share of the messages, and one of its members (the lurker) never
 *   does anything at all: their member state is never re-read by a write, so their unread count
 *   grows past the messages a conversation state keeps (RECENT_MESSAGES);
 * - every tag in REQUIRED that the random part has not produced by FORCE_FROM of the history is
 *   forced, through a short chain of writes that leads to it (a direct conversation must first be
 *   left for a message to bring its member back);
 * - writes the service must refuse are drawn too (they must change nothing).
 */

export type Tag =
  | 'register'
  | 'profile'
  | 'profile-busy'
  | 'profile-departed'
  | 'create-direct'
  | 'reopen-direct'
  | 'existing-direct'
  | 'create-group'
  | 'create-public'
  | 'patch-title'
  | 'patch-avatar'
  | 'delete-conversation'
  | 'add-member'
  | 're-add'
  | 'remove-member'
  | 'leave'
  | 'leave-direct'
  | 'leave-admin'
  | 'join-public'
  | 'rejoin-public'
  | 'read'
  | 'read-to'
  | 'post'
  | 'post-hot'
  | 'post-reply'
  | 'direct-comeback'
  | 'edit-last'
  | 'edit-older'
  | 'delete-last'
  | 'delete-recent'
  | 'delete-old'
  | 'rejected';

export interface Write {
  tags: Tag[];
  /** Who sends it (undefined: registration). */
  actor: PropertyUser | undefined;
  method: 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** The statuses the service must answer with. */
  expect: readonly number[];
  describe: string;
  conversationId?: string;
  /** Registration: the new user's username. */
  registers?: string;
}

/** Every tag a history must contain (each is forced if the random part has not produced it). */
export const REQUIRED: readonly Tag[] = [
  'register', 'profile', 'profile-busy', 'profile-departed', 'create-direct', 'reopen-direct', 'existing-direct', 'create-group',
  'create-public', 'patch-title', 'patch-avatar', 'delete-conversation', 'add-member', 're-add', 'remove-member',
  'leave', 'leave-direct', 'leave-admin', 'join-public', 'rejoin-public', 'read', 'read-to', 'post', 'post-hot', 'post-reply',
  'direct-comeback', 'edit-last', 'edit-older', 'delete-last', 'delete-recent', 'delete-old', 'rejected',
];

const SETUP_USERS = 10;
/** Messages the hot group gets over the history, spread evenly until HOT_BY of it. */
const HOT_POSTS = RECENT_MESSAGES + 15;
const HOT_BY = 0.7;
const FORCE_FROM = 0.5;
/** A profile change of a user in at least this many conversations reaches many lists at once. */
const BUSY = 4;
/** The hot group keeps at least this many active members besides the lurker (someone must post). */
const HOT_MIN_ACTIVE = 3;

const LIST = '/api/v1/conversations';

type Maker = () => Write | null;

export class HistoryGenerator {
  private readonly seen = new Set<Tag>();
  private registered = 0;
  private hotPosts = 0;
  private readonly setup: Array<() => Write> = [];

  constructor(
    private readonly world: World,
    private readonly rng: Prng,
    private readonly seed: number,
    readonly total: number,
  ) {
    for (let i = 0; i < SETUP_USERS; i++) this.setup.push(() => this.register());
    this.setup.push(() => {
      const [owner, ...rest] = this.world.users;
      // The lurker is the last set-up user; six members besides them, so that previews cut at five.
      return this.createWrite('group', owner!, rest.slice(0, 6).concat(this.world.users[SETUP_USERS - 1]!), 'hot');
    });
    this.setup.push(() => this.createWrite('direct', this.world.users[1]!, [this.world.users[2]!]));
    this.setup.push(() => this.createWrite('direct', this.world.users[3]!, [this.world.users[1]!]));
    this.setup.push(() => this.createWrite('public', this.world.users[4]!, [this.world.users[5]!]));
    this.setup.push(() => this.createWrite('group', this.world.users[2]!, this.world.users.slice(5, 8)));
  }

  get setupLength(): number {
    return this.setup.length;
  }

  /** The hot group: the first conversation of the history. */
  get hot(): WorldConversation | undefined {
    return this.world.conversations[0];
  }

  get lurker(): string | undefined {
    return this.world.users[SETUP_USERS - 1]?.id;
  }

  missing(): Tag[] {
    return REQUIRED.filter((t) => !this.seen.has(t));
  }

  /** Called once the write has answered as expected. */
  record(w: Write): void {
    for (const t of w.tags) this.seen.add(t);
    if (w.tags.includes('post-hot')) this.hotPosts++;
  }

  next(index: number): Write {
    if (index < this.setup.length) return this.setup[index]!();
    const hotDue = Math.ceil((HOT_POSTS * (index - this.setup.length)) / (HOT_BY * this.total - this.setup.length));
    if (this.hotPosts < Math.min(HOT_POSTS, hotDue)) {
      const w = this.postHot();
      if (w) return w;
    }
    if (index >= FORCE_FROM * this.total) {
      for (const tag of this.missing()) {
        const w = this.force(tag);
        if (w) return w;
      }
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const w = this.random();
      if (w) return w;
    }
    return this.register();
  }

  // ------------------------------------------------------------------ choice helpers

  /** Everyone who may act: all users but the lurker. */
  private actors(): PropertyUser[] {
    return this.world.users.filter((u) => u.id !== this.lurker);
  }

  private actorsIn(c: WorldConversation): PropertyUser[] {
    return activeMembers(c).filter((m) => m.userId !== this.lurker).map((m) => this.world.user(m.userId));
  }

  /** Whether `userId` may leave (or be removed from) `c` without the hot group running dry. */
  private mayGo(c: WorldConversation, userId: string): boolean {
    if (userId === this.lurker) return false;
    if (c.id !== this.hot?.id) return true;
    return this.actorsIn(c).length > HOT_MIN_ACTIVE;
  }

  private nonHot(cs: WorldConversation[]): WorldConversation[] {
    return cs.filter((c) => c.id !== this.hot?.id);
  }

  private name(u: PropertyUser | undefined): string {
    return u ? `${u.username}(${u.id})` : '-';
  }

  /** One of `options`, among former members only (onlyFormer), or preferably (preferFormer, when there are any). */
  private pickComeback<T extends { former: boolean }>(options: T[], preferFormer: boolean, onlyFormer: boolean): T | undefined {
    const former = options.filter((o) => o.former);
    return this.rng.pickOrUndefined(onlyFormer || (preferFormer && former.length > 0) ? former : options);
  }

  private directBetween(a: string, b: string): WorldConversation | undefined {
    return this.world.conversations.find(
      (c) => c.type === 'direct' && c.members.some((m) => m.userId === a) && c.members.some((m) => m.userId === b),
    );
  }

  // ------------------------------------------------------------------ writes

  private random(): Write | null {
    const kind = this.rng.weightedKey({
      post: 30, read: 8, edit: 6, deleteMessage: 7, profile: 6, direct: 5, group: 3, public: 2, patch: 4,
      deleteConversation: 2, add: 5, remove: 3, leave: 5, join: 4, register: 2, rejected: 3,
    });
    const makers: Record<typeof kind, Maker> = {
      post: () => this.post(),
      read: () => this.markRead(this.rng.bool(0.5)),
      edit: () => this.editMessage(this.rng.bool(0.5) ? 'last' : 'older'),
      deleteMessage: () => this.deleteMessage(this.rng.pick(['last', 'recent', 'old'] as const)),
      profile: () => this.profile(this.rng.bool(0.4) ? this.busiest() : this.rng.pick(this.actors())),
      direct: () => this.createDirect(),
      group: () => this.createWrite('group', this.rng.pick(this.actors()), this.rng.sample(this.actors(), this.rng.int(1, 7))),
      public: () => this.createWrite('public', this.rng.pick(this.actors()), this.rng.sample(this.actors(), this.rng.int(0, 3))),
      patch: () => this.patch(this.rng.bool(0.7), this.rng.bool(0.6)),
      deleteConversation: () => this.deleteConversation(),
      add: () => this.addMember(this.rng.bool(0.6)),
      remove: () => this.removeMember(),
      leave: () => this.leave(undefined),
      join: () => this.join(this.rng.bool(0.5)),
      register: () => this.register(),
      rejected: () => this.rejected(),
    };
    return makers[kind]();
  }

  /** The write that produces `tag`, or one that leads towards it; null when neither is possible now. */
  private force(tag: Tag): Write | null {
    const w = this.world;
    switch (tag) {
      case 'register':
        return this.register();
      case 'profile':
        return this.profile(this.rng.pick(this.actors()));
      case 'profile-busy': {
        const busy = this.busiest();
        return w.activeConversations(busy.id).length >= BUSY ? this.profile(busy) : this.createWrite('group', busy, this.rng.sample(this.actors(), 2));
      }
      case 'profile-departed': {
        const departed = this.actors().filter((u) => this.departedFrom(u.id).length > 0);
        if (departed.length > 0) return this.profile(this.rng.pick(departed));
        // Lead there: the sender of a conversation's last message leaves it.
        const options: Array<{ c: WorldConversation; userId: string }> = [];
        for (const c of w.conversations) {
          const last = liveMessages(c).at(-1);
          if (last && isActive(c, last.senderId) && this.mayGo(c, last.senderId) && activeMembers(c).length >= 2) options.push({ c, userId: last.senderId });
        }
        const o = this.rng.pickOrUndefined(options);
        return o ? this.leaveWrite(o.c, o.userId) : this.post();
      }
      case 'create-direct':
      case 'existing-direct':
        return this.createDirect(tag);
      case 'reopen-direct': {
        const c = this.directWithOneSideGone();
        if (!c) return this.leaveDirect();
        const gone = c.members.find((m) => !m.active)!;
        const other = c.members.find((m) => m.userId !== gone.userId)!;
        return this.directWrite(w.user(gone.userId), w.user(other.userId));
      }
      case 'direct-comeback': {
        const c = this.directWithOneSideGone();
        return c ? this.post(c) : this.leaveDirect();
      }
      case 'create-group':
        return this.createWrite('group', this.rng.pick(this.actors()), this.rng.sample(this.actors(), 3));
      case 'create-public':
        return this.createWrite('public', this.rng.pick(this.actors()), []);
      case 'patch-title':
        return this.patch(true, false);
      case 'patch-avatar':
        return this.patch(false, true);
      case 'delete-conversation':
        return this.deleteConversation() ?? this.createWrite('group', this.rng.pick(this.actors()), this.rng.sample(this.actors(), 2));
      case 'add-member':
        return this.addMember(false);
      case 're-add':
        return this.addMember(true, true) ?? this.leave(this.nonHot(w.conversations).filter((c) => c.type !== 'direct' && admins(c).length > 0));
      case 'remove-member':
        return this.removeMember();
      case 'leave':
        return this.leave(undefined);
      case 'leave-direct':
        return this.leaveDirect();
      case 'leave-admin': {
        const options: Array<{ c: WorldConversation; userId: string }> = [];
        for (const c of w.conversations) {
          const a = admins(c);
          if (c.type !== 'direct' && a.length === 1 && this.mayGo(c, a[0]!.userId) && activeMembers(c).length >= 2) options.push({ c, userId: a[0]!.userId });
        }
        const o = this.rng.pickOrUndefined(options);
        return o ? this.leaveWrite(o.c, o.userId) : this.createWrite('group', this.rng.pick(this.actors()), this.rng.sample(this.actors(), 2));
      }
      case 'join-public':
        return this.join(false) ?? this.createWrite('public', this.rng.pick(this.actors()), []);
      case 'rejoin-public':
        return this.join(true, true) ?? this.leave(w.conversations.filter((c) => c.type === 'public'));
      case 'read':
        return this.markRead(false);
      case 'read-to':
        return this.markRead(true, true) ?? this.post();
      case 'post':
        return this.post();
      case 'post-hot':
        return this.postHot();
      case 'post-reply':
        return this.post(undefined, true);
      case 'edit-last':
      case 'edit-older':
        return this.editMessage(tag === 'edit-last' ? 'last' : 'older', true) ?? this.post();
      case 'delete-last':
      case 'delete-recent':
        return this.deleteMessage(tag === 'delete-last' ? 'last' : 'recent', true) ?? this.post();
      case 'delete-old':
        return this.deleteMessage('old', true) ?? this.postHot();
      case 'rejected':
        return this.rejected();
    }
  }

  private register(): Write {
    const username = `p${this.seed % 100000}n${++this.registered}`;
    const displayName = this.rng.bool(0.8) ? awkwardText(this.rng) : undefined;
    return {
      tags: ['register'],
      actor: undefined,
      method: 'POST',
      path: '/api/v1/auth/register',
      body: { username, password: 'password-123', ...(displayName === undefined ? {} : { displayName }) },
      expect: [201],
      describe: `register ${username} displayName=${JSON.stringify(displayName)}`,
      registers: username,
    };
  }

  private busiest(): PropertyUser {
    let best = this.actors()[0]!;
    for (const u of this.actors()) {
      if (this.world.activeConversations(u.id).length > this.world.activeConversations(best.id).length) best = u;
    }
    return best;
  }

  /** Conversations that still have members, that `userId` has left, whose last message is theirs. */
  private departedFrom(userId: string): WorldConversation[] {
    return this.world.conversations.filter(
      (c) => !isActive(c, userId) && c.members.some((m) => m.userId === userId) && liveMessages(c).at(-1)?.senderId === userId && activeMembers(c).length > 0,
    );
  }

  private profile(actor: PropertyUser): Write {
    const what = this.rng.int(0, 2);
    const body: Record<string, unknown> = {};
    if (what !== 1) body.displayName = awkwardText(this.rng);
    if (what !== 0) body.avatar = awkwardAvatar(this.rng);
    const n = this.world.activeConversations(actor.id).length;
    const departed = this.departedFrom(actor.id).length;
    const tags: Tag[] = ['profile'];
    if (n >= BUSY) tags.push('profile-busy');
    if (departed > 0) tags.push('profile-departed');
    return {
      tags,
      actor,
      method: 'PATCH',
      path: '/api/v1/users/me',
      body,
      expect: [200],
      describe: `profile of ${this.name(actor)} (in ${n} conversations, last sender in ${departed} left) ${JSON.stringify(body)}`,
    };
  }

  private createWrite(type: 'group' | 'public' | 'direct', actor: PropertyUser, others: PropertyUser[], title?: string): Write {
    if (type === 'direct') return this.directWrite(actor, others[0]!);
    const memberIds = others.filter((o) => o.id !== actor.id && o.id !== this.lurker).map((o) => o.id);
    if (type === 'group' && memberIds.length === 0 && title === undefined) {
      const other = this.actors().find((u) => u.id !== actor.id)!;
      memberIds.push(other.id);
    }
    if (title === 'hot') memberIds.push(this.lurker!);
    const body = { type, title: title === 'hot' ? 'Hot "group" \\ \u0001\u001f\u007f 😀 e\u0301 \u2028' : awkwardText(this.rng, 100), memberIds };
    return {
      tags: [type === 'group' ? 'create-group' : 'create-public'],
      actor,
      method: 'POST',
      path: LIST,
      body,
      expect: [201],
      describe: `create ${type} by ${this.name(actor)} ${JSON.stringify(body)}`,
    };
  }

  private directWrite(actor: PropertyUser, other: PropertyUser): Write {
    const existing = this.directBetween(actor.id, other.id);
    const tag: Tag = !existing ? 'create-direct' : isActive(existing, actor.id) ? 'existing-direct' : 'reopen-direct';
    return {
      tags: [tag],
      actor,
      method: 'POST',
      path: LIST,
      body: { type: 'direct', memberIds: [other.id] },
      expect: existing ? [200] : [201],
      describe: `${tag} by ${this.name(actor)} with ${this.name(other)}${existing ? ` (conversation ${existing.id})` : ''}`,
      conversationId: existing?.id,
    };
  }

  private createDirect(want?: Tag): Write | null {
    const actors = this.actors();
    if (want === 'existing-direct') {
      const open = this.world.conversations.filter((c) => c.type === 'direct' && this.actorsIn(c).length > 0 && c.members.length === 2);
      const c = this.rng.pickOrUndefined(open);
      if (!c) return null;
      const actor = this.rng.pick(this.actorsIn(c));
      return this.directWrite(actor, this.world.user(c.members.find((m) => m.userId !== actor.id)!.userId));
    }
    if (want === 'create-direct') {
      const pairs: Array<[PropertyUser, PropertyUser]> = [];
      for (const a of actors) for (const b of actors) if (a.id < b.id && !this.directBetween(a.id, b.id)) pairs.push([a, b]);
      const pair = this.rng.pickOrUndefined(pairs);
      return pair ? this.directWrite(...pair) : this.register();
    }
    const [a, b] = this.rng.sample(actors, 2);
    return a && b ? this.directWrite(a, b) : null;
  }

  private directWithOneSideGone(): WorldConversation | undefined {
    return this.world.conversations.find((c) => c.type === 'direct' && activeMembers(c).length === 1);
  }

  private leaveDirect(): Write | null {
    const both = this.world.conversations.filter((c) => c.type === 'direct' && activeMembers(c).length === 2);
    return both.length > 0 ? this.leave(both) : this.createDirect('create-direct');
  }

  private patch(title: boolean, avatar: boolean): Write | null {
    const candidates = this.world.conversations.filter((c) => c.type !== 'direct' && admins(c).some((a) => a.userId !== this.lurker));
    const c = this.rng.pickOrUndefined(candidates);
    if (!c) return null;
    const actor = this.world.user(this.rng.pick(admins(c).filter((a) => a.userId !== this.lurker)).userId);
    const body: Record<string, unknown> = {};
    if (title || !avatar) body.title = awkwardText(this.rng, 100);
    if (avatar) body.avatar = awkwardAvatar(this.rng);
    const tags: Tag[] = [];
    if ('title' in body) tags.push('patch-title');
    if ('avatar' in body) tags.push('patch-avatar');
    return {
      tags,
      actor,
      method: 'PATCH',
      path: `${LIST}/${c.id}`,
      body,
      expect: [200],
      describe: `patch ${c.type} ${c.id} by ${this.name(actor)} ${JSON.stringify(body)}`,
      conversationId: c.id,
    };
  }

  private deleteConversation(): Write | null {
    const candidates = this.nonHot(this.world.conversations).filter((c) => admins(c).some((a) => a.userId !== this.lurker));
    const c = this.rng.pickOrUndefined(candidates);
    if (!c) return null;
    const actor = this.world.user(admins(c).find((a) => a.userId !== this.lurker)!.userId);
    return {
      tags: ['delete-conversation'],
      actor,
      method: 'DELETE',
      path: `${LIST}/${c.id}`,
      expect: [200],
      describe: `delete ${c.type} ${c.id} (${activeMembers(c).length} members) by ${this.name(actor)}`,
      conversationId: c.id,
    };
  }

  private addMember(preferFormer: boolean, onlyFormer = false): Write | null {
    const options: Array<{ c: WorldConversation; admin: string; target: string; former: boolean }> = [];
    for (const c of this.world.conversations) {
      if (c.type === 'direct') continue;
      const admin = admins(c).find((a) => a.userId !== this.lurker);
      if (!admin) continue;
      for (const u of this.actors()) {
        if (isActive(c, u.id)) continue;
        options.push({ c, admin: admin.userId, target: u.id, former: c.members.some((m) => m.userId === u.id) });
      }
    }
    const o = this.pickComeback(options, preferFormer, onlyFormer);
    if (!o) return null;
    const actor = this.world.user(o.admin);
    return {
      tags: o.former ? ['add-member', 're-add'] : ['add-member'],
      actor,
      method: 'POST',
      path: `${LIST}/${o.c.id}/members`,
      body: { userId: o.target },
      expect: [200],
      describe: `${o.former ? 're-add former member' : 'add'} ${this.name(this.world.user(o.target))} to ${o.c.type} ${o.c.id} by ${this.name(actor)}`,
      conversationId: o.c.id,
    };
  }

  private removeMember(): Write | null {
    const options: Array<{ c: WorldConversation; admin: string; target: string }> = [];
    for (const c of this.world.conversations) {
      if (c.type === 'direct') continue;
      const admin = admins(c).find((a) => a.userId !== this.lurker);
      if (!admin) continue;
      for (const m of activeMembers(c)) if (m.userId !== admin.userId && this.mayGo(c, m.userId)) options.push({ c, admin: admin.userId, target: m.userId });
    }
    const o = this.rng.pickOrUndefined(options);
    if (!o) return null;
    const actor = this.world.user(o.admin);
    return {
      tags: ['remove-member'],
      actor,
      method: 'DELETE',
      path: `${LIST}/${o.c.id}/members/${o.target}`,
      expect: [200],
      describe: `remove ${this.name(this.world.user(o.target))} from ${o.c.type} ${o.c.id} by ${this.name(actor)}`,
      conversationId: o.c.id,
    };
  }

  private leave(among: WorldConversation[] | undefined): Write | null {
    const options: Array<{ c: WorldConversation; userId: string }> = [];
    for (const c of among ?? this.world.conversations) {
      for (const m of activeMembers(c)) if (this.mayGo(c, m.userId)) options.push({ c, userId: m.userId });
    }
    const o = this.rng.pickOrUndefined(options);
    return o ? this.leaveWrite(o.c, o.userId) : null;
  }

  private leaveWrite(c: WorldConversation, userId: string): Write {
    const actor = this.world.user(userId);
    const lastAdmin = c.type !== 'direct' && admins(c).length === 1 && admins(c)[0]!.userId === userId && activeMembers(c).length > 1;
    const tags: Tag[] = ['leave'];
    if (c.type === 'direct') tags.push('leave-direct');
    if (lastAdmin) tags.push('leave-admin');
    return {
      tags,
      actor,
      method: 'DELETE',
      path: `${LIST}/${c.id}/members/${userId}`,
      expect: [200],
      describe: `${this.name(actor)} leaves ${c.type} ${c.id}${lastAdmin ? ' (its last admin: another member is promoted)' : ''}`,
      conversationId: c.id,
    };
  }

  private join(preferFormer: boolean, onlyFormer = false): Write | null {
    const options: Array<{ c: WorldConversation; userId: string; former: boolean }> = [];
    for (const c of this.world.conversations) {
      if (c.type !== 'public') continue;
      for (const u of this.actors()) if (!isActive(c, u.id)) options.push({ c, userId: u.id, former: c.members.some((m) => m.userId === u.id) });
    }
    const o = this.pickComeback(options, preferFormer, onlyFormer);
    if (!o) return null;
    const actor = this.world.user(o.userId);
    return {
      tags: o.former ? ['join-public', 'rejoin-public'] : ['join-public'],
      actor,
      method: 'POST',
      path: `${LIST}/${o.c.id}/join`,
      expect: [200],
      describe: `${this.name(actor)} ${o.former ? 'rejoins' : 'joins'} public ${o.c.id}`,
      conversationId: o.c.id,
    };
  }

  private markRead(to: boolean, needMessages = false): Write | null {
    const options: Array<{ c: WorldConversation; userId: string }> = [];
    for (const c of this.world.conversations) {
      if (needMessages && c.messages.length === 0) continue;
      for (const m of activeMembers(c)) if (m.userId !== this.lurker) options.push({ c, userId: m.userId });
    }
    const o = this.rng.pickOrUndefined(options);
    if (!o) return null;
    // Any message of the conversation, deleted ones too, older than the marker or not.
    const target = to ? this.rng.pickOrUndefined(o.c.messages) : undefined;
    const actor = this.world.user(o.userId);
    return {
      tags: target ? ['read', 'read-to'] : ['read'],
      actor,
      method: 'POST',
      path: `${LIST}/${o.c.id}/read`,
      body: target ? { messageId: target.id } : {},
      expect: [200],
      describe: `${this.name(actor)} reads ${o.c.type} ${o.c.id}${target ? ` up to ${target.id}${target.live ? '' : ' (deleted)'}` : ''}`,
      conversationId: o.c.id,
    };
  }

  private postHot(): Write | null {
    const hot = this.hot;
    return hot ? this.post(hot) : null;
  }

  private post(into?: WorldConversation, reply = false): Write | null {
    let c = into;
    let actor: PropertyUser | undefined;
    if (c === undefined) {
      const comeback = this.directWithOneSideGone();
      if (comeback && this.rng.bool(0.3)) c = comeback;
      else {
        actor = this.rng.pickOrUndefined(this.actors().filter((u) => this.world.activeConversations(u.id).length > 0));
        if (!actor) return null;
        c = this.rng.pick(this.world.activeConversations(actor.id));
      }
    }
    actor ??= this.rng.pickOrUndefined(this.actorsIn(c));
    if (!actor) return null;
    const live = liveMessages(c);
    const replyTo = (reply || this.rng.bool(0.3)) && live.length > 0 ? this.rng.pickOrUndefined(live) : undefined;
    const tags: Tag[] = ['post'];
    if (c.id === this.hot?.id) tags.push('post-hot');
    if (replyTo) tags.push('post-reply');
    if (c.type === 'direct' && activeMembers(c).length === 1) tags.push('direct-comeback');
    const content = `${awkwardText(this.rng, 200)} #${this.rng.int(0, 999_999)}`;
    return {
      tags,
      actor,
      method: 'POST',
      path: `${LIST}/${c.id}/messages`,
      body: replyTo ? { content, replyToId: replyTo.id } : { content },
      expect: [201],
      describe: `${this.name(actor)} posts in ${c.type} ${c.id} (${live.length} live messages)${replyTo ? ` replying to ${replyTo.id}` : ''}${tags.includes('direct-comeback') ? ' (the other side had left)' : ''}`,
      conversationId: c.id,
    };
  }

  private editMessage(which: 'last' | 'older', strict = false): Write | null {
    const options: Array<{ c: WorldConversation; id: string; senderId: string }> = [];
    for (const c of this.world.conversations) {
      const live = liveMessages(c);
      const pool = which === 'last' ? live.slice(-1) : live.slice(0, -1);
      for (const m of pool) if (m.senderId !== this.lurker && isActive(c, m.senderId)) options.push({ c, id: m.id, senderId: m.senderId });
    }
    const o = this.rng.pickOrUndefined(options);
    if (!o) return strict ? null : this.post();
    const actor = this.world.user(o.senderId);
    return {
      tags: [which === 'last' ? 'edit-last' : 'edit-older'],
      actor,
      method: 'PATCH',
      path: `${LIST}/${o.c.id}/messages/${o.id}`,
      body: { content: `edited ${awkwardText(this.rng)}` },
      expect: [200],
      describe: `${this.name(actor)} edits ${which === 'last' ? 'the last' : 'an older'} message ${o.id} of ${o.c.type} ${o.c.id}`,
      conversationId: o.c.id,
    };
  }

  private deleteMessage(which: 'last' | 'recent' | 'old', strict = false): Write | null {
    const options: Array<{ c: WorldConversation; id: string; actor: string }> = [];
    for (const c of this.world.conversations) {
      const live = liveMessages(c);
      const pool =
        which === 'last' ? live.slice(-1) : which === 'recent' ? live.slice(-RECENT_MESSAGES, -1) : live.slice(0, Math.max(0, live.length - RECENT_MESSAGES));
      const admin = admins(c).find((a) => a.userId !== this.lurker);
      for (const m of pool) {
        const by = m.senderId !== this.lurker && isActive(c, m.senderId) ? m.senderId : admin?.userId;
        if (by !== undefined) options.push({ c, id: m.id, actor: by });
      }
    }
    const o = this.rng.pickOrUndefined(options);
    if (!o) return strict ? null : this.post();
    const actor = this.world.user(o.actor);
    return {
      tags: [which === 'last' ? 'delete-last' : which === 'recent' ? 'delete-recent' : 'delete-old'],
      actor,
      method: 'DELETE',
      path: `${LIST}/${o.c.id}/messages/${o.id}`,
      expect: [200],
      describe: `${this.name(actor)} deletes ${which} message ${o.id} of ${o.c.type} ${o.c.id} (${liveMessages(o.c).length} live)`,
      conversationId: o.c.id,
    };
  }

  /** A write the service must refuse with a 4xx; it must change no list. */
  private rejected(): Write | null {
    const kind = this.rng.int(0, 4);
    const c = this.rng.pickOrUndefined(this.world.conversations.filter((x) => this.actorsIn(x).length > 0));
    if (!c) return null;
    const member = this.rng.pick(this.actorsIn(c));
    const outsider = this.rng.pickOrUndefined(this.actors().filter((u) => !isActive(c, u.id)));
    const base = { tags: ['rejected'] as Tag[], conversationId: c.id };
    if (kind === 0) {
      return { ...base, actor: member, method: 'POST', path: `${LIST}/${c.id}/messages`, body: { content: ' \n\t ' }, expect: [400], describe: `rejected: blank message in ${c.id}` };
    }
    if (kind === 1 && outsider) {
      return { ...base, actor: outsider, method: 'POST', path: `${LIST}/${c.id}/read`, body: {}, expect: [404], describe: `rejected: outsider ${outsider.id} reads ${c.id}` };
    }
    if (kind === 2 && c.type !== 'direct') {
      const other = activeMembers(c).find((m) => m.userId !== member.id);
      if (other) {
        const admin = admins(c).find((a) => a.userId !== this.lurker);
        if (admin) {
          return { ...base, actor: this.world.user(admin.userId), method: 'POST', path: `${LIST}/${c.id}/members`, body: { userId: other.userId }, expect: [409], describe: `rejected: add active member ${other.userId} to ${c.id}` };
        }
      }
    }
    if (kind === 3) {
      const nonAdmin = activeMembers(c).find((m) => m.role !== 'admin' && m.userId !== this.lurker);
      if (nonAdmin) {
        const actor = this.world.user(nonAdmin.userId);
        return { ...base, actor, method: 'PATCH', path: `${LIST}/${c.id}`, body: { title: 'not allowed' }, expect: [403], describe: `rejected: non-admin ${actor.id} patches ${c.type} ${c.id}` };
      }
    }
    // PostgreSQL text cannot hold U+0000: refused up front, like a blank name.
    const displayName = this.rng.pick(['   ', 'nul\u0000name']);
    return { ...base, actor: member, method: 'PATCH', path: '/api/v1/users/me', body: { displayName }, expect: [400], describe: `rejected: displayName ${JSON.stringify(displayName)} of ${member.id}` };
  }
}
