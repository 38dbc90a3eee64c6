import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient, ApiResponse } from '../helpers/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import type { RunningGateway } from '../helpers/gateway.js';
import { createConversation, createGroup, postMessage, readUntilHit, registerUser, type TestUser } from '../helpers/fixtures.js';
import { TcpProxy } from '../helpers/net.js';
import { expectEveryWriteRouteCovered } from '../helpers/routes.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { StreamClient, type Frame } from '../helpers/stream-client.js';

/**
 * The push, route by route: every write is made on instance A; the co-members' sockets are on
 * instance B; each must receive the write's frames, and the list that user fetches right after the
 * frame — from C, B and A — shows an item equal to the pushed one (never older than a read), or no
 * longer shows a conversation that was pushed as removed. The last test fails when a write route
 * exists that this table does not cover.
 */

const V1 = '/api/v1';

interface Scenario {
  admin: TestUser;
  member: TestUser;
  outsider: TestUser;
  group: any;
  pub: any;
  direct: any;
  lastMessage: any;
}

type Who = 'admin' | 'member' | 'outsider';

/** A frame a user must receive after the write; `item` narrows conversation frames to the write's. */
type Expected =
  | { who: Who; type: 'conversation'; conversationId: (s: Scenario, res: ApiResponse) => string; item: (item: any, s: Scenario) => boolean }
  | { who: Who; type: 'removed'; conversationId: (s: Scenario) => string }
  | { who: Who; type: 'message'; event: 'created' | 'edited' | 'deleted'; conversationId: (s: Scenario) => string; messageId: (s: Scenario, res: ApiResponse) => string; message: (s: Scenario, res: ApiResponse) => unknown };

interface PushCase {
  /** `METHOD /url` as Fastify registered it. */
  route: string;
  name: string;
  write: (api: ApiClient, s: Scenario) => Promise<ApiResponse>;
  expected: Expected[];
}

const byId = (list: any[], id: string) => list.find((c) => c.id === id);

const CASES: PushCase[] = [
  {
    route: 'PATCH /api/v1/users/me',
    name: 'profile update: member previews and the direct conversation’s title',
    write: (api, s) => api.patch(`${V1}/users/me`, s.admin.token, { displayName: 'Renamed Admin', avatar: 'https://a.example/x.png' }),
    expected: [
      {
        who: 'member',
        type: 'conversation',
        conversationId: (s) => s.group.id,
        item: (item, s) => item.members.find((m: any) => m.userId === s.admin.id)?.user.displayName === 'Renamed Admin',
      },
      { who: 'member', type: 'conversation', conversationId: (s) => s.direct.id, item: (item) => item.title === 'Renamed Admin' },
    ],
  },
  {
    route: 'POST /api/v1/conversations',
    name: 'create a direct conversation',
    write: (api, s) => api.post(`${V1}/conversations`, s.member.token, { type: 'direct', memberIds: [s.outsider.id] }),
    expected: [
      { who: 'outsider', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item, s) => item.type === 'direct' && item.title === s.member.displayName },
      { who: 'member', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item, s) => item.title === s.outsider.displayName },
    ],
  },
  {
    route: 'POST /api/v1/conversations',
    name: 'create a group',
    write: (api, s) => api.post(`${V1}/conversations`, s.admin.token, { type: 'group', title: 'Brand new', memberIds: [s.member.id, s.outsider.id] }),
    expected: [
      { who: 'member', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item) => item.title === 'Brand new' && item.memberCount === 3 },
      { who: 'outsider', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item) => item.title === 'Brand new' },
      { who: 'admin', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item) => item.title === 'Brand new' },
    ],
  },
  {
    route: 'POST /api/v1/conversations',
    name: 'create a public conversation',
    write: (api, s) => api.post(`${V1}/conversations`, s.admin.token, { type: 'public', title: 'Open room', memberIds: [s.member.id] }),
    expected: [
      { who: 'member', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item) => item.type === 'public' && item.title === 'Open room' },
      { who: 'admin', type: 'conversation', conversationId: (_s, res) => res.body.data.id, item: (item) => item.title === 'Open room' },
    ],
  },
  {
    route: 'PATCH /api/v1/conversations/:id',
    name: 'rename',
    write: (api, s) => api.patch(`${V1}/conversations/${s.group.id}`, s.admin.token, { title: 'New title' }),
    expected: [{ who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.title === 'New title' }],
  },
  {
    route: 'PATCH /api/v1/conversations/:id',
    name: 'change the avatar',
    write: (api, s) => api.patch(`${V1}/conversations/${s.group.id}`, s.admin.token, { avatar: 'https://img.example/team.png' }),
    expected: [{ who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.avatar === 'https://img.example/team.png' }],
  },
  {
    route: 'DELETE /api/v1/conversations/:id',
    name: 'delete the conversation',
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}`, s.admin.token),
    expected: [
      { who: 'member', type: 'removed', conversationId: (s) => s.group.id },
      { who: 'admin', type: 'removed', conversationId: (s) => s.group.id },
    ],
  },
  {
    route: 'POST /api/v1/conversations/:id/members',
    name: 'add a member',
    write: (api, s) => api.post(`${V1}/conversations/${s.group.id}/members`, s.admin.token, { userId: s.outsider.id }),
    expected: [
      { who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.memberCount === 3 },
      // The new member: the conversation enters their list, with nothing unread.
      { who: 'outsider', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.memberCount === 3 && item.unreadCount === 0 },
    ],
  },
  {
    route: 'DELETE /api/v1/conversations/:id/members/:userId',
    name: 'an admin removes a member',
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}/members/${s.member.id}`, s.admin.token),
    expected: [
      { who: 'member', type: 'removed', conversationId: (s) => s.group.id },
      { who: 'admin', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.memberCount === 1 },
    ],
  },
  {
    route: 'DELETE /api/v1/conversations/:id/members/:userId',
    name: 'a member leaves',
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}/members/${s.member.id}`, s.member.token),
    expected: [
      { who: 'member', type: 'removed', conversationId: (s) => s.group.id },
      { who: 'admin', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.memberCount === 1 },
    ],
  },
  {
    route: 'POST /api/v1/conversations/:id/join',
    name: 'join a public conversation',
    write: (api, s) => api.post(`${V1}/conversations/${s.pub.id}/join`, s.outsider.token),
    expected: [
      { who: 'admin', type: 'conversation', conversationId: (s) => s.pub.id, item: (item) => item.memberCount === 2 },
      { who: 'outsider', type: 'conversation', conversationId: (s) => s.pub.id, item: (item) => item.memberCount === 2 && item.unreadCount === 0 },
    ],
  },
  {
    route: 'POST /api/v1/conversations/:id/read',
    name: 'mark read',
    write: (api, s) => api.post(`${V1}/conversations/${s.group.id}/read`, s.member.token, {}),
    expected: [{ who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.unreadCount === 0 }],
  },
  {
    route: 'POST /api/v1/conversations/:id/messages',
    name: 'post a message',
    write: (api, s) => api.post(`${V1}/conversations/${s.group.id}/messages`, s.admin.token, { content: 'fresh!' }),
    expected: [
      {
        who: 'member',
        type: 'message',
        event: 'created',
        conversationId: (s) => s.group.id,
        messageId: (_s, res) => res.body.data.id,
        message: (_s, res) => res.body.data,
      },
      // first, second, third were already unread; fresh! makes four.
      { who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.lastMessage?.content === 'fresh!' && item.unreadCount === 4 },
      { who: 'admin', type: 'message', event: 'created', conversationId: (s) => s.group.id, messageId: (_s, res) => res.body.data.id, message: (_s, res) => res.body.data },
      { who: 'admin', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.lastMessage?.content === 'fresh!' && item.unreadCount === 0 },
    ],
  },
  {
    route: 'PATCH /api/v1/conversations/:id/messages/:messageId',
    name: 'edit a message',
    write: (api, s) => api.patch(`${V1}/conversations/${s.group.id}/messages/${s.lastMessage.id}`, s.admin.token, { content: 'edited' }),
    expected: [
      {
        who: 'member',
        type: 'message',
        event: 'edited',
        conversationId: (s) => s.group.id,
        messageId: (s) => s.lastMessage.id,
        message: (_s, res) => res.body.data,
      },
      { who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.lastMessage?.content === 'edited' && item.lastMessage.editedAt !== null },
    ],
  },
  {
    route: 'DELETE /api/v1/conversations/:id/messages/:messageId',
    name: 'delete a message',
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}/messages/${s.lastMessage.id}`, s.admin.token),
    expected: [
      { who: 'member', type: 'message', event: 'deleted', conversationId: (s) => s.group.id, messageId: (s) => s.lastMessage.id, message: () => null },
      // third is gone: second is the last message again, and first and second remain unread.
      { who: 'member', type: 'conversation', conversationId: (s) => s.group.id, item: (item) => item.lastMessage?.content === 'second' && item.unreadCount === 2 },
    ],
  },
];

/** Writes that change no conversation list, with the reason; everything else must be in CASES. */
const NO_LIST_EFFECT: Record<string, string> = {
  'POST /api/v1/auth/register': 'a new user is in nobody’s list',
  'POST /api/v1/auth/login': 'reads credentials, writes nothing',
  'DELETE /api/v1/admin/cache': 'clears the cache: clients are told to resync (tested below)',
};

describe('every write route pushes to co-members on another instance, never older than a read', () => {
  let cluster: Cluster;
  const open: StreamClient[] = [];
  beforeAll(async () => {
    cluster = await startCluster(3, SHARED_REDIS_URL, { ADMIN_USERNAMES: 'root' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => cluster.teardown());

  const writer = () => cluster.instances[0]!;
  const pushing = () => cluster.instances[1]!;

  async function scenario(): Promise<Scenario> {
    const api = writer().api;
    const [admin, member, outsider] = await Promise.all([registerUser(api, 'Admin'), registerUser(api, 'Member'), registerUser(api, 'Outsider')]);
    const group = await createGroup(api, admin, [member], 'Team');
    const pub = await createConversation(api, admin, { type: 'public', title: 'Lobby', memberIds: [] });
    const direct = await createConversation(api, admin, { type: 'direct', memberIds: [member.id] });
    await postMessage(api, admin, group.id, 'first');
    await postMessage(api, admin, group.id, 'second');
    const lastMessage = await postMessage(api, admin, group.id, 'third');
    return { admin, member, outsider, group, pub, direct, lastMessage };
  }

  async function connect(user: TestUser): Promise<StreamClient> {
    const c = await StreamClient.connect(pushing().url, user.token);
    open.push(c);
    return c;
  }

  /** What the user's list shows on every instance, fetched now. */
  async function listsEverywhere(user: TestUser): Promise<Array<{ instance: number; list: any[] }>> {
    const out = [];
    // C first: the instance that neither wrote nor pushed.
    for (const i of [2, 1, 0]) {
      const res = await cluster.instances[i]!.api.get(`${V1}/conversations?limit=100`, user.token);
      expect(res.status, res.text).toBe(200);
      out.push({ instance: i, list: res.body.data });
    }
    return out;
  }

  function matches(e: Expected, f: Frame, s: Scenario, res: ApiResponse): boolean {
    if (f.type !== e.type) return false;
    if (e.type === 'conversation') return f.item?.id === e.conversationId(s, res) && e.item(f.item, s);
    if (e.type === 'removed') return f.conversationId === e.conversationId(s);
    return f.event === e.event && f.conversationId === e.conversationId(s) && f.messageId === e.messageId(s, res);
  }

  for (const c of CASES) {
    it(`${c.route}: ${c.name}`, async () => {
      const s = await scenario();
      const clients = new Map<Who, StreamClient>();
      for (const who of ['admin', 'member', 'outsider'] as const) clients.set(who, await connect(s[who]));
      const from = new Map([...clients].map(([who, client]) => [who, client.frames.length]));

      const res = await c.write(writer().api, s);
      expect(res.status, res.text).toBeGreaterThanOrEqual(200);
      expect(res.status, res.text).toBeLessThan(300);

      for (const e of c.expected) {
        const client = clients.get(e.who)!;
        const frame = await client.waitFor((f) => matches(e, f, s, res), 10_000, `${e.type} frame for ${e.who}`, from.get(e.who));
        expect(typeof frame.position, JSON.stringify(frame)).toBe('string');
        const user = s[e.who];
        if (e.type === 'conversation') {
          // The newest item pushed for this conversation (this write's, or a later frame of it).
          const pushed = client.frames.filter((f) => f.type === 'conversation' && f.item.id === frame.item.id).at(-1)!.item;
          for (const { instance, list } of await listsEverywhere(user)) {
            expect(byId(list, pushed.id), `${e.who}'s list on instance ${instance}`).toEqual(pushed);
          }
        } else if (e.type === 'removed') {
          for (const { instance, list } of await listsEverywhere(user)) {
            expect(byId(list, frame.conversationId!), `${e.who}'s list on instance ${instance}`).toBeUndefined();
          }
          // A conversation that left the list is not pushed again as an item.
          const after = client.frames.slice(client.frames.indexOf(frame));
          expect(after.filter((f) => f.type === 'conversation' && f.item.id === frame.conversationId)).toEqual([]);
        } else {
          expect(frame.message).toEqual(e.message(s, res));
          const history = await cluster.instances[2]!.api.get(`${V1}/conversations/${frame.conversationId}/messages?limit=50`, user.token);
          expect(history.status, history.text).toBe(200);
          const inHistory = history.body.data.find((m: any) => m.id === frame.messageId);
          if (e.event === 'deleted') expect(inHistory).toBeUndefined();
          else expect(inHistory).toEqual(frame.message);
        }
      }
      // A removal goes to the user whose list the conversation left, and to nobody else.
      const removedFor = new Set(c.expected.filter((e) => e.type === 'removed').map((e) => e.who));
      for (const [who, client] of clients) {
        if (!removedFor.has(who)) expect(client.frames.filter((f) => f.type === 'removed'), who).toEqual([]);
      }
    });
  }

  it('a message goes to the conversation’s members only, never to a connected outsider', async () => {
    const s = await scenario();
    const outsider = await connect(s.outsider);
    const member = await connect(s.member);
    const posted = await postMessage(writer().api, s.admin, s.group.id, 'members only');
    await member.waitFor((f) => f.type === 'message' && f.messageId === posted.id);
    // The outsider's socket is on the same instance and was connected first: the member's frame
    // arriving means the outsider's would have been sent by now.
    await member.waitFor((f) => f.type === 'conversation' && f.item.lastMessage?.id === posted.id);
    expect(outsider.events).toEqual([]);
  });

  it('members who never read, past the messages a conversation state keeps: each pushed item is the list’s item, unread count included', async () => {
    const api = writer().api;
    const [admin, first, second] = await Promise.all([registerUser(api, 'Poster'), registerUser(api, 'Lurker 1'), registerUser(api, 'Lurker 2')]);
    const group = await createGroup(api, admin, [first!, second!], 'Busy');
    const lurkers = [await connect(first!), await connect(second!)];
    // Past RECENT_MESSAGES (50) since the lurkers' member states were read when they connected.
    const POSTS = 60;
    for (let i = 1; i <= POSTS; i++) {
      const posted = await postMessage(api, admin, group.id, `busy ${i}`);
      for (const [k, client] of lurkers.entries()) {
        const frame = await client.waitFor((f) => f.type === 'conversation' && f.item.id === group.id && f.item.lastMessage?.id === posted.id);
        expect(frame.item.unreadCount, `post ${i}`).toBe(i);
        if (i % 10 === 0 || i === 51) {
          const res = await pushing().api.get(`${V1}/conversations?limit=100`, [first!, second!][k]!.token);
          expect(res.status, res.text).toBe(200);
          expect(byId(res.body.data, group.id), `post ${i}`).toEqual(frame.item);
        }
      }
    }
  });

  it('DELETE /api/v1/admin/cache: clients connected to another instance are told to resync', async () => {
    const api = writer().api;
    const root = await api.post(`${V1}/auth/register`, undefined, { username: 'root', password: 'password-123' });
    expect(root.status, root.text).toBe(201);
    const s = await scenario();
    const member = await connect(s.member);
    expect((await api.delete(`${V1}/admin/cache`, root.body.data.token)).status).toBe(200);
    const resync = await member.waitFor((f) => f.type === 'resync');
    expect(resync).toEqual({ type: 'resync', reason: expect.any(String) });
    // The stream stays open and keeps pushing after the clear.
    const posted = await postMessage(api, s.admin, s.group.id, 'after the clear');
    await member.waitFor((f) => f.type === 'message' && f.messageId === posted.id);
  });

  it('every registered write route has a push test above (a new route must add one)', () => {
    expectEveryWriteRouteCovered(writer().gw.app, [...CASES.map((c) => c.route), ...Object.keys(NO_LIST_EFFECT)]);
  });
});

describe('a write’s frames wait until every instance serves it', () => {
  let cluster: Cluster;
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(SHARED_REDIS_URL).port || 6379));
    cluster = await startCluster(2, SHARED_REDIS_URL);
    // Instance C reaches Redis through the proxy: the test can hold its bus for a while.
    await cluster.addInstance({}, { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
  });
  afterAll(async () => {
    proxy.resume();
    await cluster.teardown();
    await proxy.close();
  });

  it('a frame is not sent while an instance that serves the list from memory has not applied the write', async () => {
    const [a, b, c] = cluster.instances as [RunningGateway, RunningGateway, RunningGateway];
    const [admin, member] = await Promise.all([registerUser(a.api, 'Admin'), registerUser(a.api, 'Member')]);
    const group = await createGroup(a.api, admin, [member], 'Slow bus');
    await postMessage(a.api, admin, group.id, 'before');
    // C holds the member's list in memory, and keeps serving it while it trusts its lease.
    const { seen } = await readUntilHit(c.api, `${V1}/conversations`, member.token);
    expect(seen.at(-1)).toBe('HIT-L1');
    const client = await StreamClient.connect(b.url, member.token);

    proxy.pause();
    const resume = setTimeout(() => proxy.resume(), 1000);
    const write = a.api.post(`${V1}/conversations/${group.id}/messages`, admin.token, { content: 'while C is slow' });
    try {
      const frame = await client.waitFor((f) => f.type === 'conversation' && f.item.lastMessage?.content === 'while C is slow', 15_000);
      // Right after the frame, C's list is at least as new.
      const list = await c.api.get(`${V1}/conversations`, member.token);
      expect(list.status, list.text).toBe(200);
      expect(byId(list.body.data, group.id)).toEqual(frame.item);
      expect((await write).status).toBe(201);
    } finally {
      clearTimeout(resume);
      proxy.resume();
      await client.close();
      // Answered before the instances close (a request in flight would hold a keep-alive connection open).
      await write.catch(() => undefined);
    }
  });
});

