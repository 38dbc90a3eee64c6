import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../helpers/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createConversation, createGroup, postMessage, readUntilHit, registerUser, type TestUser } from '../helpers/fixtures.js';
import { RedisCluster } from '../../support/redis-cluster.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { expectEveryWriteRouteCovered } from '../helpers/routes.js';

/**
 * The freshness guarantee, route by route: a co-member's list is cached (the test sees a HIT on both
 * instances), the write is made on instance A, and the very next GET shows it — on A and on B.
 * The last test fails when a write route exists that this table does not cover.
 */

interface Scenario {
  admin: TestUser;
  member: TestUser;
  outsider: TestUser;
  group: any;
  pub: any;
  lastMessage: any;
}

interface FreshnessCase {
  /** `METHOD /url` as Fastify registered it. */
  route: string;
  /** Whose list must change (its list is cached before the write). */
  reader: (s: Scenario) => TestUser;
  write: (api: ApiClient, s: Scenario) => Promise<{ status: number }>;
  /** Checks the reader's list after the write. */
  check: (list: any[], s: Scenario) => void;
}

const V1 = '/api/v1';
const find = (list: any[], id: string) => list.find((c) => c.id === id);

const CASES: FreshnessCase[] = [
  {
    route: 'PATCH /api/v1/users/me',
    reader: (s) => s.member,
    write: (api, s) => api.patch(`${V1}/users/me`, s.admin.token, { displayName: 'Renamed Admin' }),
    check: (list, s) => {
      const preview = find(list, s.group.id).members.find((m: any) => m.userId === s.admin.id);
      expect(preview.user.displayName).toBe('Renamed Admin');
    },
  },
  {
    route: 'POST /api/v1/conversations',
    reader: (s) => s.member,
    write: (api, s) => api.post(`${V1}/conversations`, s.admin.token, { type: 'group', title: 'Brand new', memberIds: [s.member.id] }),
    check: (list) => expect(list[0].title).toBe('Brand new'),
  },
  {
    route: 'PATCH /api/v1/conversations/:id',
    reader: (s) => s.member,
    write: (api, s) => api.patch(`${V1}/conversations/${s.group.id}`, s.admin.token, { title: 'New title' }),
    check: (list, s) => expect(find(list, s.group.id).title).toBe('New title'),
  },
  {
    route: 'DELETE /api/v1/conversations/:id',
    reader: (s) => s.member,
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}`, s.admin.token),
    check: (list, s) => expect(find(list, s.group.id)).toBeUndefined(),
  },
  {
    route: 'POST /api/v1/conversations/:id/members',
    reader: (s) => s.member,
    write: (api, s) => api.post(`${V1}/conversations/${s.group.id}/members`, s.admin.token, { userId: s.outsider.id }),
    check: (list, s) => expect(find(list, s.group.id).memberCount).toBe(3),
  },
  {
    route: 'DELETE /api/v1/conversations/:id/members/:userId',
    // The removed member is affected too: the conversation leaves their list.
    reader: (s) => s.member,
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}/members/${s.member.id}`, s.admin.token),
    check: (list, s) => expect(find(list, s.group.id)).toBeUndefined(),
  },
  {
    route: 'POST /api/v1/conversations/:id/join',
    reader: (s) => s.admin,
    write: (api, s) => api.post(`${V1}/conversations/${s.pub.id}/join`, s.outsider.token),
    check: (list, s) => expect(find(list, s.pub.id).memberCount).toBe(2),
  },
  {
    route: 'POST /api/v1/conversations/:id/read',
    reader: (s) => s.member,
    write: (api, s) => api.post(`${V1}/conversations/${s.group.id}/read`, s.member.token, {}),
    check: (list, s) => expect(find(list, s.group.id).unreadCount).toBe(0),
  },
  {
    route: 'POST /api/v1/conversations/:id/messages',
    reader: (s) => s.member,
    write: (api, s) => api.post(`${V1}/conversations/${s.group.id}/messages`, s.admin.token, { content: 'fresh!' }),
    check: (list, s) => {
      expect(list[0].id).toBe(s.group.id);
      expect(list[0].lastMessage.content).toBe('fresh!');
      // first, second, third were already unread; fresh! makes four.
      expect(list[0].unreadCount).toBe(4);
    },
  },
  {
    route: 'PATCH /api/v1/conversations/:id/messages/:messageId',
    reader: (s) => s.member,
    write: (api, s) => api.patch(`${V1}/conversations/${s.group.id}/messages/${s.lastMessage.id}`, s.admin.token, { content: 'edited' }),
    check: (list, s) => {
      expect(find(list, s.group.id).lastMessage.content).toBe('edited');
      expect(find(list, s.group.id).lastMessage.editedAt).not.toBeNull();
    },
  },
  {
    route: 'DELETE /api/v1/conversations/:id/messages/:messageId',
    reader: (s) => s.member,
    write: (api, s) => api.delete(`${V1}/conversations/${s.group.id}/messages/${s.lastMessage.id}`, s.admin.token),
    check: (list, s) => {
      expect(find(list, s.group.id).lastMessage.content).toBe('second');
      // third is gone: first and second remain unread.
      expect(find(list, s.group.id).unreadCount).toBe(2);
    },
  },
];

/** Writes that change no conversation list, with the reason; everything else must be in CASES. */
const NO_LIST_EFFECT: Record<string, string> = {
  'POST /api/v1/auth/register': 'a new user is in nobody’s list',
  'POST /api/v1/auth/login': 'reads credentials, writes nothing',
  'DELETE /api/v1/admin/cache': 'clears the cache itself (tested below)',
};

/**
 * Where the instances keep their shared state: the shared Redis, or a Redis Cluster of 3 masters
 * started for the run (every script addresses one slot; the bus is cluster-wide pub/sub).
 */
const REDIS_SETUPS: Array<[string, () => Promise<{ env: Record<string, string>; stop(): Promise<void> }>]> = [
  ['one Redis', async () => ({ env: { REDIS_URL: SHARED_REDIS_URL }, stop: async () => undefined })],
  [
    'a Redis Cluster of 3 masters',
    async () => {
      const rc = await RedisCluster.start({ masters: 3, replicas: 0 });
      return { env: { REDIS_CLUSTER_NODES: rc.addresses.join(',') }, stop: () => rc.stop() };
    },
  ],
];

describe.each(REDIS_SETUPS)('freshness after every write route, on the writing instance and on another one (%s)', (_name, setup) => {
  let cluster: Cluster;
  let redis: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    redis = await setup();
    cluster = await startCluster(2, undefined, { ADMIN_USERNAMES: 'root', ...redis.env });
  }, 60_000);
  afterAll(async () => {
    await cluster?.teardown();
    await redis?.stop();
  });

  async function scenario(): Promise<Scenario> {
    const api = cluster.instances[0]!.api;
    const [admin, member, outsider] = await Promise.all([registerUser(api, 'Admin'), registerUser(api, 'Member'), registerUser(api, 'Outsider')]);
    const group = await createGroup(api, admin!, [member!], 'Team');
    const pub = await createConversation(api, admin!, { type: 'public', title: 'Lobby', memberIds: [] });
    await postMessage(api, admin!, group.id, 'first');
    await postMessage(api, admin!, group.id, 'second');
    const lastMessage = await postMessage(api, admin!, group.id, 'third');
    return { admin: admin!, member: member!, outsider: outsider!, group, pub, lastMessage };
  }

  /** Reads on every instance until each serves the list from its L1: the old list is cached everywhere. */
  async function primeEverywhere(user: TestUser): Promise<void> {
    for (const inst of cluster.instances) {
      const { seen } = await readUntilHit(inst.api, `${V1}/conversations`, user.token);
      expect(seen.at(-1), `${seen.join(',')} — engine: ${JSON.stringify(inst.gw.engine?.stats())}`).toBe('HIT-L1');
    }
  }

  for (const c of CASES) {
    it(`${c.route}`, async () => {
      const s = await scenario();
      const reader = c.reader(s);
      await primeEverywhere(reader);
      const res = await c.write(cluster.instances[0]!.api, s);
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
      for (const inst of cluster.instances) {
        const after = await inst.api.get(`${V1}/conversations`, reader.token);
        expect(after.status).toBe(200);
        c.check(after.body.data, s);
      }
    });
  }

  it('leaving (a member removes themself) reaches the leaver and the others, on both instances', async () => {
    const s = await scenario();
    await primeEverywhere(s.member);
    await primeEverywhere(s.admin);
    const res = await cluster.instances[1]!.api.delete(`${V1}/conversations/${s.group.id}/members/${s.member.id}`, s.member.token);
    expect(res.status).toBe(200);
    for (const inst of cluster.instances) {
      expect(find((await inst.api.get(`${V1}/conversations`, s.member.token)).body.data, s.group.id)).toBeUndefined();
      expect(find((await inst.api.get(`${V1}/conversations`, s.admin.token)).body.data, s.group.id).memberCount).toBe(1);
    }
  });

  it('DELETE /api/v1/admin/cache empties every instance: L1 everywhere and L2', async () => {
    const api = cluster.instances[0]!.api;
    const root = await api.post(`${V1}/auth/register`, undefined, { username: `root`, password: 'password-123' });
    const token = root.status === 201 ? root.body.data.token : (await api.post(`${V1}/auth/login`, undefined, { username: 'root', password: 'password-123' })).body.data.token;
    const s = await scenario();
    await primeEverywhere(s.member);
    expect((await api.delete(`${V1}/admin/cache`, token)).body).toEqual({ success: true, data: { cleared: true } });
    // The first read after the clear loads from the database (L2 was emptied too); the other instance
    // then finds that new entry in L2, not its old one in L1.
    const [a, b] = cluster.instances;
    expect((await a!.api.get(`${V1}/conversations`, s.member.token)).headers.get('x-cache')).toBe('MISS');
    expect((await b!.api.get(`${V1}/conversations`, s.member.token)).headers.get('x-cache')).toBe('HIT-L2');
  });

  it('every registered write route has a freshness test above (a new route must add one)', () => {
    expectEveryWriteRouteCovered(cluster.instances[0]!.gw.app, [...CASES.map((c) => c.route), ...Object.keys(NO_LIST_EFFECT)]);
  });
});
