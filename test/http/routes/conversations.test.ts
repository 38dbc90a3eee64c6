import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConversation,
  createGroup,
  expectError,
  SETUP_TIMEOUT_MS,
  getConversation,
  itemInList,
  listConversations,
  listIds,
  postMessage,
  registerUsers,
  type TestUser,
} from '../../helpers/fixtures.js';
import { SETUPS_WITH_CLUSTER, setupEnv } from '../../helpers/gateway.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const summary = (u: TestUser, displayName = u.displayName) => ({ id: u.id, username: u.username, displayName, avatar: null });
const member = (u: TestUser, role: 'admin' | 'member') => ({ userId: u.id, role, joinedAt: expect.stringMatching(ISO), user: summary(u) });
/** An id no conversation has (18 digits: the largest the schema allows). */
const NO_SUCH_ID = '999999999999999999';

describe.each(SETUPS_WITH_CLUSTER)('conversations: create, get, update, delete, 404s (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser, carol: TestUser, dave: TestUser, erin: TestUser;
  beforeAll(async () => {
    env = await setupEnv(backend);
    [alice, bob, carol, dave, erin] = (await registerUsers(env.api, 5)) as [TestUser, TestUser, TestUser, TestUser, TestUser];
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const total = async (u: TestUser) => (await listConversations(env.api, u)).body.pagination.total as number;

  describe('direct', () => {
    let directId: string;

    it('creates it: 201 with the item as the creator sees it (title: the other member’s displayName)', async () => {
      const res = await env.api.post('/api/v1/conversations', alice.token, { type: 'direct', memberIds: [bob.id] });
      expect(res.status, res.text).toBe(201);
      const item = res.body.data;
      expect(item).toEqual({
        id: expect.stringMatching(/^[1-9][0-9]*$/),
        type: 'direct',
        title: bob.displayName,
        avatar: null,
        memberCount: 2,
        members: expect.any(Array),
        lastMessage: null,
        lastMessageAt: null,
        unreadCount: 0,
        createdAt: expect.stringMatching(ISO),
        updatedAt: expect.stringMatching(ISO),
      });
      expect(item.members).toHaveLength(2);
      expect(item.members).toEqual(expect.arrayContaining([member(alice, 'member'), member(bob, 'member')]));
      directId = item.id;
      expect(await getConversation(env.api, alice, directId)).toEqual(item);
      // Bob sees it too, titled with Alice's name.
      expect((await itemInList(env.api, bob, directId)).title).toBe(alice.displayName);
    });

    it('the same pair again → 200 with the same conversation, from either side; never a second one', async () => {
      const again = await env.api.post('/api/v1/conversations', alice.token, { type: 'direct', memberIds: [bob.id] });
      expect(again.status, again.text).toBe(200);
      expect(again.body.data.id).toBe(directId);
      const otherSide = await env.api.post('/api/v1/conversations', bob.token, { type: 'direct', memberIds: [alice.id] });
      expect(otherSide.status, otherSide.text).toBe(200);
      expect(otherSide.body.data).toMatchObject({ id: directId, title: alice.displayName, memberCount: 2 });
      expect(await listIds(env.api, alice, 'type=direct')).toEqual([directId]);
      expect(await listIds(env.api, bob, 'type=direct')).toEqual([directId]);
    });

    it.each([
      ['with a title', (o: TestUser) => ({ type: 'direct', title: 'Hi', memberIds: [o.id] })],
      ['with two members', (o: TestUser) => ({ type: 'direct', memberIds: [o.id, bob.id] })],
      ['with the same member twice', (o: TestUser) => ({ type: 'direct', memberIds: [o.id, o.id] })],
      ['with no member', () => ({ type: 'direct', memberIds: [] })],
      ['with only the caller', () => ({ type: 'direct', memberIds: [alice.id] })],
      ['with an unknown member id', () => ({ type: 'direct', memberIds: [NO_SUCH_ID] })],
      ['with a member id that is not an id', () => ({ type: 'direct', memberIds: ['abc'] })],
      ['with a numeric member id (not a string)', (o: TestUser) => ({ type: 'direct', memberIds: [Number(o.id)] })],
    ])('rejects a direct conversation %s with 400, creating nothing', async (_label, body) => {
      const before = await total(alice);
      expectError(await env.api.post('/api/v1/conversations', alice.token, body(carol)), 400, 'VALIDATION_ERROR');
      expect(await total(alice)).toBe(before);
      expect(await total(carol)).toBe(0);
    });
  });

  describe('group and public', () => {
    it('creates a group: 201, the creator admin, the others members, in every member’s list and no one else’s', async () => {
      const res = await env.api.post('/api/v1/conversations', alice.token, { type: 'group', title: 'Project X', memberIds: [bob.id, carol.id] });
      expect(res.status, res.text).toBe(201);
      const item = res.body.data;
      expect(item).toMatchObject({ type: 'group', title: 'Project X', avatar: null, memberCount: 3, lastMessage: null, lastMessageAt: null, unreadCount: 0 });
      expect(item.members).toHaveLength(3);
      expect(item.members).toEqual(expect.arrayContaining([member(alice, 'admin'), member(bob, 'member'), member(carol, 'member')]));
      for (const u of [alice, bob, carol]) expect(await itemInList(env.api, u, item.id), u.displayName).toBeDefined();
      expect(await itemInList(env.api, dave, item.id)).toBeUndefined();
    });

    it('creates a public conversation, alone or with members: the creator is admin', async () => {
      const res = await env.api.post('/api/v1/conversations', alice.token, { type: 'public', title: 'Town square', memberIds: [] });
      expect(res.status, res.text).toBe(201);
      expect(res.body.data).toMatchObject({ type: 'public', title: 'Town square', memberCount: 1, members: [member(alice, 'admin')] });
      const withMember = await createConversation(env.api, alice, { type: 'public', title: 'Plaza', memberIds: [bob.id] });
      expect(withMember.memberCount).toBe(2);
      expect(withMember.members).toEqual(expect.arrayContaining([member(alice, 'admin'), member(bob, 'member')]));
    });

    it.each([
      ['a group without title', () => ({ type: 'group', memberIds: [bob.id] })],
      ['a group with an empty title', () => ({ type: 'group', title: '', memberIds: [bob.id] })],
      ['a group with a blank title', () => ({ type: 'group', title: '   ', memberIds: [bob.id] })],
      ['a group with a 101-character title', () => ({ type: 'group', title: 't'.repeat(101), memberIds: [bob.id] })],
      ['a group with a title holding U+0000', () => ({ type: 'group', title: 'a\u0000b', memberIds: [bob.id] })],
      ['a group with no other member', () => ({ type: 'group', title: 'Solo', memberIds: [] })],
      ['a group with an unknown member id', () => ({ type: 'group', title: 'G', memberIds: [bob.id, NO_SUCH_ID] })],
      ['a public conversation without title', () => ({ type: 'public', memberIds: [] })],
      ['an unknown type', () => ({ type: 'channel', title: 'G', memberIds: [bob.id] })],
      ['a missing memberIds', () => ({ type: 'group', title: 'G' })],
      ['memberIds that is not an array', () => ({ type: 'group', title: 'G', memberIds: bob.id })],
      ['a title that is not a string', () => ({ type: 'group', title: 7, memberIds: [bob.id] })],
      ['an unknown field', () => ({ type: 'group', title: 'G', memberIds: [bob.id], color: 'red' })],
    ])('rejects %s with 400, creating nothing', async (_label, body) => {
      const [a, b] = [await total(alice), await total(bob)];
      expectError(await env.api.post('/api/v1/conversations', alice.token, body()), 400, 'VALIDATION_ERROR');
      expect([await total(alice), await total(bob)]).toEqual([a, b]);
    });

    it('accepts a title of exactly 100 characters', async () => {
      const res = await env.api.post('/api/v1/conversations', alice.token, { type: 'group', title: 'T'.repeat(100), memberIds: [bob.id] });
      expect(res.status, res.text).toBe(201);
      expect(res.body.data.title).toBe('T'.repeat(100));
    });

    it('rejects malformed JSON with 400', async () => {
      const res = await env.api.request('POST', '/api/v1/conversations', { token: alice.token, rawBody: '{"type":"group",' });
      expectError(res, 400, 'VALIDATION_ERROR');
    });
  });

  describe('get, update, delete', () => {
    let group: any;
    beforeAll(async () => {
      group = await createGroup(env.api, alice, [bob, carol], 'Before');
    });

    it('GET /conversations/:id answers the item as the caller sees it, the same as in their list', async () => {
      const asBob = await getConversation(env.api, bob, group.id);
      expect(asBob).toEqual(await itemInList(env.api, bob, group.id));
      expect(asBob).toMatchObject({ id: group.id, type: 'group', title: 'Before', memberCount: 3 });
    });

    it('PATCH by an admin changes title and avatar; every member’s list shows it', async () => {
      const res = await env.api.patch(`/api/v1/conversations/${group.id}`, alice.token, { title: 'After', avatar: 'https://img.example/g.png' });
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ id: group.id, title: 'After', avatar: 'https://img.example/g.png', memberCount: 3 });
      for (const u of [alice, bob, carol]) {
        expect(await itemInList(env.api, u, group.id)).toMatchObject({ title: 'After', avatar: 'https://img.example/g.png' });
      }
      const cleared = await env.api.patch(`/api/v1/conversations/${group.id}`, alice.token, { avatar: null });
      expect(cleared.body.data).toMatchObject({ title: 'After', avatar: null });
    });

    it('PATCH by a member who is not admin → 403; of a direct conversation → 403; nothing changes', async () => {
      expectError(await env.api.patch(`/api/v1/conversations/${group.id}`, bob.token, { title: 'Hijacked' }), 403, 'FORBIDDEN');
      const direct = await createConversation(env.api, carol, { type: 'direct', memberIds: [dave.id] });
      expectError(await env.api.patch(`/api/v1/conversations/${direct.id}`, carol.token, { title: 'Named' }), 403, 'FORBIDDEN');
      expectError(await env.api.patch(`/api/v1/conversations/${direct.id}`, dave.token, { avatar: 'x' }), 403, 'FORBIDDEN');
      expect((await getConversation(env.api, bob, group.id)).title).toBe('After');
      expect(await getConversation(env.api, carol, direct.id)).toMatchObject({ title: dave.displayName, avatar: null });
    });

    it.each([
      ['an empty patch', {}],
      ['an empty title', { title: '' }],
      ['a blank title', { title: '  ' }],
      ['a 101-character title', { title: 'x'.repeat(101) }],
      ['an unknown field', { title: 'ok', type: 'public' }],
      ['a title that is not a string', { title: ['x'] }],
    ])('PATCH rejects %s with 400, changing nothing', async (_label, body) => {
      expectError(await env.api.patch(`/api/v1/conversations/${group.id}`, alice.token, body), 400, 'VALIDATION_ERROR');
      expect(await getConversation(env.api, alice, group.id)).toMatchObject({ type: 'group', title: 'After' });
    });

    it('DELETE by a non-admin → 403; a direct conversation (no admin) → 403', async () => {
      expectError(await env.api.delete(`/api/v1/conversations/${group.id}`, bob.token), 403, 'FORBIDDEN');
      expect(await itemInList(env.api, bob, group.id)).toBeDefined();
      const direct = await createConversation(env.api, alice, { type: 'direct', memberIds: [erin.id] });
      expectError(await env.api.delete(`/api/v1/conversations/${direct.id}`, alice.token), 403, 'FORBIDDEN');
      expect(await itemInList(env.api, erin, direct.id)).toBeDefined();
    });

    it('DELETE by the admin: the conversation leaves every member’s list, and is 404 from then on', async () => {
      await postMessage(env.api, bob, group.id, 'last words');
      const totals = [await total(alice), await total(bob), await total(carol)];
      const res = await env.api.delete(`/api/v1/conversations/${group.id}`, alice.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, data: { id: group.id, deleted: true } });
      for (const u of [alice, bob, carol]) expect(await itemInList(env.api, u, group.id), u.displayName).toBeUndefined();
      expect([await total(alice), await total(bob), await total(carol)]).toEqual(totals.map((t) => t - 1));
      expectError(await env.api.get(`/api/v1/conversations/${group.id}`, bob.token), 404, 'NOT_FOUND');
      expectError(await env.api.get(`/api/v1/conversations/${group.id}/messages`, bob.token), 404, 'NOT_FOUND');
      expectError(await env.api.delete(`/api/v1/conversations/${group.id}`, alice.token), 404, 'NOT_FOUND');
    });
  });

  describe('a conversation the caller is not an active member of is 404 on every route', () => {
    let group: any;
    let direct: any;
    let message: any;
    let aliceBefore: any;
    beforeAll(async () => {
      group = await createGroup(env.api, alice, [bob], 'Private');
      direct = await createConversation(env.api, alice, { type: 'direct', memberIds: [bob.id] });
      message = await postMessage(env.api, bob, group.id, 'secret');
      await postMessage(env.api, bob, direct.id, 'psst');
      aliceBefore = await getConversation(env.api, alice, group.id);
    });

    const routes = (cid: string, mid: string, victim: string, self: string): Array<[string, string, unknown]> => [
      ['GET', `/api/v1/conversations/${cid}`, undefined],
      ['PATCH', `/api/v1/conversations/${cid}`, { title: 'Mine now' }],
      ['DELETE', `/api/v1/conversations/${cid}`, undefined],
      ['POST', `/api/v1/conversations/${cid}/members`, { userId: self }],
      ['DELETE', `/api/v1/conversations/${cid}/members/${victim}`, undefined],
      ['DELETE', `/api/v1/conversations/${cid}/members/${self}`, undefined],
      ['POST', `/api/v1/conversations/${cid}/read`, {}],
      ['POST', `/api/v1/conversations/${cid}/read`, { messageId: mid }],
      ['POST', `/api/v1/conversations/${cid}/join`, undefined],
      ['GET', `/api/v1/conversations/${cid}/messages`, undefined],
      ['POST', `/api/v1/conversations/${cid}/messages`, { content: 'let me in' }],
      ['PATCH', `/api/v1/conversations/${cid}/messages/${mid}`, { content: 'edited by a stranger' }],
      ['DELETE', `/api/v1/conversations/${cid}/messages/${mid}`, undefined],
    ];

    it('an outsider gets the same 404 as for an id that does not exist (no leak), on a group and a direct conversation', async () => {
      for (const conv of [group, direct]) {
        const real = routes(conv.id, message.id, bob.id, dave.id);
        const none = routes(NO_SUCH_ID, message.id, bob.id, dave.id);
        for (let i = 0; i < real.length; i++) {
          const [method, path, body] = real[i]!;
          const res = await env.api.request(method, path, { token: dave.token, body });
          expectError(res, 404, 'NOT_FOUND');
          const [m2, p2, b2] = none[i]!;
          const ghost = await env.api.request(m2, p2, { token: dave.token, body: b2 });
          expect(res.body, `${method} ${path}`).toEqual(ghost.body);
        }
      }
    });

    it('nothing the outsider tried changed anything', async () => {
      expect(await getConversation(env.api, alice, group.id)).toEqual(aliceBefore);
      expect((await env.api.get(`/api/v1/conversations/${group.id}/messages`, alice.token)).body.data.map((m: any) => m.content)).toEqual(['secret']);
      expect(await listConversations(env.api, dave).then((r) => r.body.data.map((c: any) => c.id))).not.toContain(group.id);
      expect((await getConversation(env.api, bob, direct.id)).memberCount).toBe(2);
    });

    it('an unknown message in a conversation the caller is in → 404', async () => {
      for (const [method, body] of [['PATCH', { content: 'x' }], ['DELETE', undefined]] as const) {
        expectError(await env.api.request(method, `/api/v1/conversations/${group.id}/messages/${NO_SUCH_ID}`, { token: alice.token, body }), 404, 'NOT_FOUND');
      }
      expectError(await env.api.post(`/api/v1/conversations/${group.id}/read`, alice.token, { messageId: NO_SUCH_ID }), 404, 'NOT_FOUND');
    });
  });

  describe('ids that are not ids → 400 on every route', () => {
    it.each(['abc', '0', '-1', '1.5', '01', '1e3', '9999999999999999999'])('%s', async (bad) => {
      const requests: Array<[string, string, unknown]> = [
        ['GET', `/api/v1/conversations/${bad}`, undefined],
        ['PATCH', `/api/v1/conversations/${bad}`, { title: 'x' }],
        ['DELETE', `/api/v1/conversations/${bad}`, undefined],
        ['POST', `/api/v1/conversations/${bad}/members`, { userId: bob.id }],
        ['POST', `/api/v1/conversations/1/members`, { userId: bad }],
        ['DELETE', `/api/v1/conversations/1/members/${bad}`, undefined],
        ['POST', `/api/v1/conversations/${bad}/read`, {}],
        ['POST', `/api/v1/conversations/1/read`, { messageId: bad }],
        ['POST', `/api/v1/conversations/${bad}/join`, undefined],
        ['GET', `/api/v1/conversations/${bad}/messages`, undefined],
        ['GET', `/api/v1/conversations/1/messages?before=${bad}`, undefined],
        ['POST', `/api/v1/conversations/${bad}/messages`, { content: 'x' }],
        ['PATCH', `/api/v1/conversations/1/messages/${bad}`, { content: 'x' }],
        ['DELETE', `/api/v1/conversations/1/messages/${bad}`, undefined],
        ['GET', `/api/v1/conversations?withUserId=${bad}`, undefined],
      ];
      for (const [method, path, body] of requests) {
        const res = await env.api.request(method, path, { token: alice.token, body });
        expect(res.status, `${method} ${path}`).toBe(400);
        expectError(res, 400, 'VALIDATION_ERROR');
      }
    });
  });

  describe('concurrent duplicates resolve to one', () => {
    it('both sides create their direct conversation at the same time: one conversation, one 201 and one 200', async () => {
      const [r1, r2] = await Promise.all([
        env.api.post('/api/v1/conversations', dave.token, { type: 'direct', memberIds: [erin.id] }),
        env.api.post('/api/v1/conversations', erin.token, { type: 'direct', memberIds: [dave.id] }),
      ]);
      expect([r1.status, r2.status].sort(), `${r1.text} ${r2.text}`).toEqual([200, 201]);
      expect(r1.body.data.id).toBe(r2.body.data.id);
      for (const [u, o] of [[dave, erin], [erin, dave]] as const) {
        const { body } = await listConversations(env.api, u, `type=direct&withUserId=${o.id}`);
        expect(body.pagination.total).toBe(1);
        expect(body.data[0]).toMatchObject({ id: r1.body.data.id, memberCount: 2, title: o.displayName });
      }
    });

    it('the same member added twice at once, or the same user joining twice at once: one succeeds, the other is 409', async () => {
      const g = await createGroup(env.api, alice, [bob], 'Race');
      const adds = await Promise.all([1, 2].map(() => env.api.post(`/api/v1/conversations/${g.id}/members`, alice.token, { userId: dave.id })));
      expect(adds.map((r) => r.status).sort()).toEqual([200, 409]);
      expect((await getConversation(env.api, alice, g.id)).memberCount).toBe(3);

      const pub = await createConversation(env.api, alice, { type: 'public', title: 'Race square', memberIds: [] });
      const joins = await Promise.all([1, 2].map(() => env.api.post(`/api/v1/conversations/${pub.id}/join`, erin.token)));
      expect(joins.map((r) => r.status).sort()).toEqual([200, 409]);
      expect((await getConversation(env.api, erin, pub.id)).memberCount).toBe(2);
    });
  });

  describe('POST /conversations/:id/read accepts no body at all (messageId is optional)', () => {
    it('marks everything read', async () => {
      const g = await createGroup(env.api, alice, [erin], 'Reads');
      await postMessage(env.api, erin, g.id, 'one');
      await postMessage(env.api, erin, g.id, 'two');
      expect((await itemInList(env.api, alice, g.id)).unreadCount).toBe(2);
      const res = await env.api.request('POST', `/api/v1/conversations/${g.id}/read`, { token: alice.token });
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ id: g.id, unreadCount: 0 });
      expect((await itemInList(env.api, alice, g.id)).unreadCount).toBe(0);
      expectError(await env.api.post(`/api/v1/conversations/${g.id}/read`, alice.token, { messageId: '1', extra: true }), 400, 'VALIDATION_ERROR');
    });
  });
});
