import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../../support/prng.js';
import type { ApiClient, ApiResponse } from '../helpers/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createTokenService } from '../../src/domain/auth/tokens.js';
import { TEST_JWT_SECRET } from '../helpers/config.js';
import { mapLimit, uniqueUsername, type TestUser } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { StreamClient, type Frame } from '../helpers/stream-client.js';

/**
 * No frame ever reaches a user who is not in the conversation. 200 users are connected (half to each
 * of two instances) while a seeded random sequence of writes runs, one at a time, on either instance:
 * groups, directs and public rooms are created, joined, left, renamed and deleted, members are added
 * and removed, messages posted, edited and deleted, read markers and profiles moved. The test keeps
 * the membership history (which users were in which conversation after each write), and checks every
 * frame every user received against it, at the moment the frame arrived:
 * - a message frame: the user was a member at some point between that message write and the arrival;
 * - a conversation frame: the same, from the newest write its content shows (its last message, its
 *   title, its members' names) — content from after the user left never reaches them;
 * - a removal frame: the user was removed from that conversation (or it was deleted) before it arrived.
 * At the end, every user's list as rebuilt from their frames alone equals the list the server serves
 * (and the model's memberships equal the database's).
 */

const SEED = 0x13_2026;
const USERS = 200;
const WRITES = 300;
const V1 = '/api/v1';

interface Conv {
  id: string;
  type: 'direct' | 'group' | 'public';
  members: Set<string>;
  /** Live messages: id -> sender. */
  messages: Map<string, string>;
  /** A direct conversation's two users, whether they are in it now or not. */
  pair?: [string, string];
}

type Kind = 'group' | 'direct' | 'public' | 'join' | 'add' | 'remove' | 'leave' | 'post' | 'edit' | 'deleteMessage' | 'rename' | 'read' | 'deleteConversation' | 'profile';

const WEIGHTS: Record<Kind, number> = {
  group: 3,
  direct: 1,
  public: 0.7,
  join: 1.2,
  add: 2,
  remove: 1.5,
  leave: 1.2,
  post: 6,
  edit: 1.5,
  deleteMessage: 1,
  rename: 1,
  read: 1.5,
  deleteConversation: 0.4,
  profile: 0.7,
};

describe('isolation: 200 connected users, random writes, no frame to a non-member', () => {
  let cluster: Cluster;
  let users: TestUser[];
  const clients = new Map<string, StreamClient>();

  beforeAll(async () => {
    cluster = await startCluster(2, SHARED_REDIS_URL);
    // Straight into the database, with tokens signed by the service's secret: scrypt would make 200
    // registrations the slowest part of the test (the register route has its own tests).
    const tokens = createTokenService(TEST_JWT_SECRET, 3600);
    const prefix = uniqueUsername('iso');
    const { rows } = await cluster.database.db.query<{ id: string; username: string; display_name: string }>(
      `INSERT INTO users (username, password_hash, display_name)
       SELECT $1 || g, 'not-a-hash', 'User ' || g FROM generate_series(1, $2::int) g ORDER BY g
       RETURNING id::text, username, display_name`,
      [prefix, USERS],
    );
    users = rows
      .map((r) => ({ id: r.id, username: r.username, displayName: r.display_name, token: tokens.sign({ sub: r.id, username: r.username }) }))
      .sort((a, b) => Number(a.id) - Number(b.id));
    await mapLimit(users, 8, async (u, i) => {
      clients.set(u.id, await StreamClient.connect(cluster.instances[i % 2]!.url, u.token));
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await cluster.teardown();
  });

  it(`seed ${SEED}: ${WRITES} writes`, async () => {
    const prng = new Prng(SEED);
    const db = cluster.database.db;
    const byId = new Map(users.map((u) => [u.id, u]));
    const convs = new Map<string, Conv>();
    const directPairs = new Set<string>();
    /** conversation:user -> [after write `from`, until write `to`) intervals of membership. */
    const membership = new Map<string, Array<{ from: number; to: number }>>();
    /** What each write made that a frame can show: message ids, contents, titles, names -> write index. */
    const madeBy = { message: new Map<string, number>(), deletion: new Map<string, number>(), text: new Map<string, number>() };
    const messageConversation = new Map<string, string>();
    const startedAt: number[] = [];

    const join = (c: string, u: string, at: number) => {
      const key = `${c}:${u}`;
      const list = membership.get(key) ?? [];
      list.push({ from: at, to: Infinity });
      membership.set(key, list);
    };
    const leave = (c: string, u: string, at: number) => {
      const last = membership.get(`${c}:${u}`)?.at(-1);
      if (last?.to === Infinity) last.to = at;
    };
    /** Whether the user was a member in some state after write `lo` … after write `hi`. */
    const memberBetween = (c: string, u: string, lo: number, hi: number) =>
      (membership.get(`${c}:${u}`) ?? []).some((i) => i.from <= hi && i.to > lo);
    const removedBy = (c: string, u: string, hi: number) => (membership.get(`${c}:${u}`) ?? []).some((i) => i.to <= hi);

    const admins = async (c: string): Promise<string[]> =>
      (await db.query<{ id: string }>(`SELECT user_id::text AS id FROM conversation_members WHERE conversation_id = $1 AND left_at IS NULL AND role = 'admin' ORDER BY user_id`, [c])).rows.map((r) => r.id);
    const ok = (res: ApiResponse, status: number, what: string) => expect(res.status, `${what}: ${res.text}`).toBe(status);
    const live = (pred: (c: Conv) => boolean) => [...convs.values()].filter((c) => c.members.size > 0 && pred(c));
    const nonMembers = (c: Conv) => users.filter((u) => !c.members.has(u.id));

    /** One write of `kind` at index `i`, or false when the world has nothing to apply it to. */
    async function write(kind: Kind, i: number, api: ApiClient): Promise<boolean> {
      const start = () => (startedAt[i] = performance.now());
      switch (kind) {
        case 'group':
        case 'public': {
          const creator = prng.pick(users);
          const others = prng.sample(users.filter((u) => u !== creator), kind === 'group' ? prng.int(1, 7) : prng.int(0, 3));
          const title = `G${i}`;
          madeBy.text.set(title, i);
          start();
          const res = await api.post(`${V1}/conversations`, creator.token, { type: kind, title, memberIds: others.map((o) => o.id) });
          ok(res, 201, kind);
          const c: Conv = { id: res.body.data.id, type: kind, members: new Set([creator.id, ...others.map((o) => o.id)]), messages: new Map() };
          convs.set(c.id, c);
          for (const m of c.members) join(c.id, m, i);
          return true;
        }
        case 'direct': {
          const [a, b] = prng.sample(users, 2) as [TestUser, TestUser];
          const pair = [a.id, b.id].sort().join(':');
          if (directPairs.has(pair)) return false;
          directPairs.add(pair);
          start();
          const res = await api.post(`${V1}/conversations`, a.token, { type: 'direct', memberIds: [b.id] });
          ok(res, 201, 'direct');
          const c: Conv = { id: res.body.data.id, type: 'direct', members: new Set([a.id, b.id]), messages: new Map(), pair: [a.id, b.id] };
          convs.set(c.id, c);
          join(c.id, a.id, i);
          join(c.id, b.id, i);
          return true;
        }
        case 'join': {
          const c = prng.pickOrUndefined(live((c) => c.type === 'public'));
          const u = c && prng.pickOrUndefined(nonMembers(c));
          if (!c || !u) return false;
          start();
          ok(await api.post(`${V1}/conversations/${c.id}/join`, u.token), 200, 'join');
          c.members.add(u.id);
          join(c.id, u.id, i);
          return true;
        }
        case 'add': {
          const c = prng.pickOrUndefined(live((c) => c.type === 'group'));
          const u = c && prng.pickOrUndefined(nonMembers(c));
          if (!c || !u) return false;
          const actor = byId.get(prng.pick(await admins(c.id)))!;
          start();
          ok(await api.post(`${V1}/conversations/${c.id}/members`, actor.token, { userId: u.id }), 200, 'add');
          c.members.add(u.id);
          join(c.id, u.id, i);
          return true;
        }
        case 'remove':
        case 'leave': {
          const c = prng.pickOrUndefined(live((c) => (kind === 'leave' ? true : c.type !== 'direct' && c.members.size > 1)));
          if (!c) return false;
          const actorId = kind === 'leave' ? prng.pick([...c.members]) : prng.pick(await admins(c.id));
          const targetId = kind === 'leave' ? actorId : prng.pickOrUndefined([...c.members].filter((m) => m !== actorId));
          if (targetId === undefined) return false;
          start();
          ok(await api.delete(`${V1}/conversations/${c.id}/members/${targetId}`, byId.get(actorId)!.token), 200, kind);
          c.members.delete(targetId);
          leave(c.id, targetId, i);
          return true;
        }
        case 'post': {
          const c = prng.pickOrUndefined(live(() => true));
          if (!c) return false;
          const sender = prng.pick([...c.members]);
          const content = `m${i}`;
          madeBy.text.set(content, i);
          start();
          const res = await api.post(`${V1}/conversations/${c.id}/messages`, byId.get(sender)!.token, { content });
          ok(res, 201, 'post');
          // A message in a direct conversation the other side had left brings it back to their list.
          if (c.type === 'direct') {
            for (const m of c.pair!) {
              if (!c.members.has(m)) {
                c.members.add(m);
                join(c.id, m, i);
              }
            }
          }
          c.messages.set(res.body.data.id, sender);
          madeBy.message.set(res.body.data.id, i);
          messageConversation.set(res.body.data.id, c.id);
          return true;
        }
        case 'edit':
        case 'deleteMessage': {
          const c = prng.pickOrUndefined(live((c) => [...c.messages.values()].some((s) => c.members.has(s))));
          if (!c) return false;
          const [messageId, sender] = prng.pick([...c.messages].filter(([, s]) => c.members.has(s)));
          const token = byId.get(sender)!.token;
          if (kind === 'edit') {
            const content = `e${i}`;
            madeBy.text.set(content, i);
            start();
            ok(await api.patch(`${V1}/conversations/${c.id}/messages/${messageId}`, token, { content }), 200, 'edit');
          } else {
            start();
            ok(await api.delete(`${V1}/conversations/${c.id}/messages/${messageId}`, token), 200, 'delete message');
            c.messages.delete(messageId);
            madeBy.deletion.set(messageId, i);
          }
          return true;
        }
        case 'rename': {
          const c = prng.pickOrUndefined(live((c) => c.type !== 'direct'));
          if (!c) return false;
          const actor = byId.get(prng.pick(await admins(c.id)))!;
          const title = `T${i}`;
          madeBy.text.set(title, i);
          start();
          ok(await api.patch(`${V1}/conversations/${c.id}`, actor.token, { title }), 200, 'rename');
          return true;
        }
        case 'read': {
          const c = prng.pickOrUndefined(live(() => true));
          if (!c) return false;
          start();
          ok(await api.post(`${V1}/conversations/${c.id}/read`, byId.get(prng.pick([...c.members]))!.token, {}), 200, 'read');
          return true;
        }
        case 'deleteConversation': {
          const c = prng.pickOrUndefined(live((c) => c.type !== 'direct'));
          if (!c) return false;
          const actor = byId.get(prng.pick(await admins(c.id)))!;
          start();
          ok(await api.delete(`${V1}/conversations/${c.id}`, actor.token), 200, 'delete conversation');
          for (const m of c.members) leave(c.id, m, i);
          convs.delete(c.id);
          return true;
        }
        case 'profile': {
          const u = prng.pick(users);
          const displayName = `N${i}`;
          madeBy.text.set(displayName, i);
          start();
          ok(await api.patch(`${V1}/users/me`, u.token, { displayName }), 200, 'profile');
          return true;
        }
      }
    }

    const done = new Map<Kind, number>();
    for (let i = 1; i <= WRITES; i++) {
      const api = cluster.instances[prng.int(0, 1)]!.api;
      for (;;) {
        const kind = prng.weightedKey(WEIGHTS);
        if (await write(kind, i, api)) {
          done.set(kind, (done.get(kind) ?? 0) + 1);
          break;
        }
      }
    }
    // Every kind of write ran.
    expect([...done.keys()].sort()).toEqual((Object.keys(WEIGHTS) as Kind[]).sort());

    // Quiet: frames of a write whose settlement an instance did not hear are released by a timer
    // (~2.3 s); after that, no new frame for a second.
    const total = () => [...clients.values()].reduce((n, c) => n + c.frames.length, 0);
    await new Promise((r) => setTimeout(r, 2500));
    for (let before = -1, deadline = Date.now() + 20_000; before !== total() && Date.now() < deadline; ) {
      before = total();
      await new Promise((r) => setTimeout(r, 1000));
    }
    // The model is the database: the history it checks frames against is the real one.
    const rows = (await db.query<{ c: string; u: string }>(`SELECT conversation_id::text AS c, user_id::text AS u FROM conversation_members WHERE left_at IS NULL`)).rows;
    expect(new Set(rows.map((r) => `${r.c}:${r.u}`))).toEqual(new Set([...convs.values()].flatMap((c) => [...c.members].map((m) => `${c.id}:${m}`))));

    /** The newest write whose doing the item shows. */
    const asOf = (item: any): number => {
      const texts = [item.title, item.lastMessage?.content, item.lastMessage?.sender.displayName, ...item.members.map((m: any) => m.user.displayName)];
      return Math.max(0, ...texts.map((t) => madeBy.text.get(t) ?? 0));
    };
    /** The index of the last write started when the frame arrived (its write cannot be later). */
    const writeAt = (t: number) => {
      let k = 0;
      while (k + 1 < startedAt.length && (startedAt[k + 1] ?? Infinity) <= t) k++;
      return k;
    };

    const violations: string[] = [];
    const counts = { conversation: 0, removed: 0, created: 0, edited: 0, deleted: 0 };
    for (const u of users) {
      const client = clients.get(u.id)!;
      expect(client.closedWith, `user ${u.id}`).toBeUndefined();
      client.frames.forEach((f: Frame, n) => {
        const k = writeAt(client.arrivals[n]!);
        const at = `user ${u.id}, frame ${n} (after write ${k}): ${JSON.stringify(f).slice(0, 300)}`;
        if (f.type === 'conversation') {
          counts.conversation++;
          if (!memberBetween(f.item.id, u.id, asOf(f.item), k)) violations.push(`not a member since write ${asOf(f.item)}: ${at}`);
        } else if (f.type === 'removed') {
          counts.removed++;
          if (!removedBy(f.conversationId!, u.id, k)) violations.push(`removal of a conversation the user did not leave: ${at}`);
        } else if (f.type === 'message') {
          counts[f.event!]++;
          const by = f.event === 'deleted' ? madeBy.deletion.get(f.messageId!) : f.event === 'edited' ? madeBy.text.get(f.message.content) : madeBy.message.get(f.messageId!);
          if (by === undefined || messageConversation.get(f.messageId!) !== f.conversationId) violations.push(`unknown message: ${at}`);
          else if (!memberBetween(f.conversationId!, u.id, by, k)) violations.push(`message to a non-member: ${at}`);
        } else if (f.type !== 'ready') violations.push(`unexpected frame: ${at}`);
      });
    }
    expect(violations).toEqual([]);
    // The run was a real one: every kind of frame went out, many times.
    expect(counts.conversation).toBeGreaterThan(500);
    for (const k of ['removed', 'created', 'edited', 'deleted'] as const) expect(counts[k], k).toBeGreaterThan(5);

    // Every user's list, rebuilt from their frames alone, is the list the server serves.
    await mapLimit(users, 8, async (u, i) => {
      const view = new Map<string, any>();
      for (const f of clients.get(u.id)!.frames) {
        if (f.type === 'conversation') view.set(f.item.id, f.item);
        else if (f.type === 'removed') view.delete(f.conversationId!);
      }
      const res = await cluster.instances[(i + 1) % 2]!.api.get(`${V1}/conversations?limit=100`, u.token);
      expect(res.status, res.text).toBe(200);
      expect(Object.fromEntries(view), `user ${u.id}`).toEqual(Object.fromEntries(res.body.data.map((c: any) => [c.id, c])));
    });
  }, 120_000);
});
