import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConversation,
  createGroup,
  expectError,
  getConversation,
  itemInList,
  listConversations,
  postMessage,
  registerInOrder,
  nextMillisecond,
  SETUP_TIMEOUT_MS,
  type TestUser,
} from '../../helpers/fixtures.js';
import { SETUPS_WITH_CLUSTER, setupEnv } from '../../helpers/gateway.js';

const previewIds = (item: any) => item.members.map((m: any) => m.userId);
const roleOf = (item: any, u: TestUser) => item.members.find((m: any) => m.userId === u.id)?.role;

describe.each(SETUPS_WITH_CLUSTER)('members: add, remove, leave, join (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser, carol: TestUser, dave: TestUser, erin: TestUser;
  beforeAll(async () => {
    env = await setupEnv(backend);
    // In order: ids ascend alice < bob < ... (ties of joinedAt are broken by user id).
    [alice, bob, carol, dave, erin] = (await registerInOrder(env.api, ['Alice', 'Bob', 'Carol', 'Dave', 'Erin'])) as [
      TestUser, TestUser, TestUser, TestUser, TestUser,
    ];
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const total = async (u: TestUser) => (await listConversations(env.api, u)).body.pagination.total as number;
  const addMember = (actor: TestUser, cid: string, userId: string) => env.api.post(`/api/v1/conversations/${cid}/members`, actor.token, { userId });
  const removeMember = (actor: TestUser, cid: string, userId: string) => env.api.delete(`/api/v1/conversations/${cid}/members/${userId}`, actor.token);

  describe('in a group', () => {
    let group: any;
    beforeAll(async () => {
      group = await createGroup(env.api, alice, [bob], 'Team');
      await postMessage(env.api, bob, group.id, 'history 1');
      await postMessage(env.api, alice, group.id, 'history 2');
    });

    it('an admin adds a member: 200 with the item; the newcomer sees it with nothing unread, the others see the new count and preview', async () => {
      const res = await addMember(alice, group.id, dave.id);
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ id: group.id, memberCount: 3 });
      expect(previewIds(res.body.data)).toEqual([alice.id, bob.id, dave.id]);
      expect(roleOf(res.body.data, dave)).toBe('member');

      const asDave = await itemInList(env.api, dave, group.id);
      expect(asDave).toMatchObject({ memberCount: 3, unreadCount: 0, lastMessage: { content: 'history 2', senderId: alice.id } });
      const asBob = await itemInList(env.api, bob, group.id);
      expect(asBob.memberCount).toBe(3);
      expect(previewIds(asBob)).toEqual([alice.id, bob.id, dave.id]);
      // The newcomer can take part from now on.
      await postMessage(env.api, dave, group.id, 'hi all');
      expect((await itemInList(env.api, bob, group.id)).unreadCount).toBe(2);
    });

    it('adding an active member → 409 (also the admin themself); an unknown user → 400; nothing changes', async () => {
      expectError(await addMember(alice, group.id, dave.id), 409, 'CONFLICT');
      expectError(await addMember(alice, group.id, alice.id), 409, 'CONFLICT');
      expectError(await addMember(alice, group.id, '999999999999'), 400, 'VALIDATION_ERROR');
      expectError(await env.api.post(`/api/v1/conversations/${group.id}/members`, alice.token, {}), 400, 'VALIDATION_ERROR');
      expectError(await env.api.post(`/api/v1/conversations/${group.id}/members`, alice.token, { userId: carol.id, role: 'admin' }), 400, 'VALIDATION_ERROR');
      expectError(await env.api.post(`/api/v1/conversations/${group.id}/members`, alice.token, { userId: Number(carol.id) }), 400, 'VALIDATION_ERROR');
      const item = await getConversation(env.api, alice, group.id);
      expect(item.memberCount).toBe(3);
      expect(previewIds(item)).toEqual([alice.id, bob.id, dave.id]);
      expect(await itemInList(env.api, carol, group.id)).toBeUndefined();
    });

    it('a member who is not admin cannot add (403) or remove another member (403)', async () => {
      expectError(await addMember(bob, group.id, carol.id), 403, 'FORBIDDEN');
      expectError(await removeMember(bob, group.id, dave.id), 403, 'FORBIDDEN');
      expectError(await removeMember(bob, group.id, alice.id), 403, 'FORBIDDEN');
      expect(await itemInList(env.api, carol, group.id)).toBeUndefined();
      expect((await getConversation(env.api, bob, group.id)).memberCount).toBe(3);
    });

    it('an admin removes a member: it leaves their list (404 from then on); the others see the count and previews change', async () => {
      const daveTotal = await total(dave);
      const res = await removeMember(alice, group.id, dave.id);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, data: { conversationId: group.id, userId: dave.id, removed: true } });

      expect(await itemInList(env.api, dave, group.id)).toBeUndefined();
      expect(await total(dave)).toBe(daveTotal - 1);
      expectError(await env.api.get(`/api/v1/conversations/${group.id}`, dave.token), 404, 'NOT_FOUND');
      expectError(await env.api.get(`/api/v1/conversations/${group.id}/messages`, dave.token), 404, 'NOT_FOUND');
      expectError(await env.api.post(`/api/v1/conversations/${group.id}/messages`, dave.token, { content: 'still here?' }), 404, 'NOT_FOUND');

      for (const u of [alice, bob]) {
        const item = await itemInList(env.api, u, group.id);
        expect(item.memberCount).toBe(2);
        expect(previewIds(item)).toEqual([alice.id, bob.id]);
      }
      // Removing someone who is not (or no longer) a member → 404.
      expectError(await removeMember(alice, group.id, dave.id), 404, 'NOT_FOUND');
      expectError(await removeMember(alice, group.id, erin.id), 404, 'NOT_FOUND');
    });

    it('a member leaves (removes themself): it leaves their list only; the others’ count and previews change', async () => {
      await addMember(alice, group.id, carol.id);
      const bobTotal = await total(bob);
      const res = await removeMember(bob, group.id, bob.id);
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toEqual({ conversationId: group.id, userId: bob.id, removed: true });
      expect(await itemInList(env.api, bob, group.id)).toBeUndefined();
      expect(await total(bob)).toBe(bobTotal - 1);
      for (const u of [alice, carol]) {
        const item = await itemInList(env.api, u, group.id);
        expect(item.memberCount, u.displayName).toBe(2);
        expect(previewIds(item)).toEqual([alice.id, carol.id]);
      }
      // Leaving twice: no longer a member → 404.
      expectError(await removeMember(bob, group.id, bob.id), 404, 'NOT_FOUND');
    });
  });

  it('when the last admin leaves, the member who joined first becomes admin', async () => {
    const g = await createGroup(env.api, alice, [erin], 'Succession');
    await nextMillisecond();
    expect((await addMember(alice, g.id, bob.id)).status).toBe(200);
    expect((await removeMember(alice, g.id, alice.id)).status).toBe(200);
    const item = await getConversation(env.api, bob, g.id);
    expect(item.memberCount).toBe(2);
    expect(roleOf(item, erin)).toBe('admin');
    expect(roleOf(item, bob)).toBe('member');
    const patched = await env.api.patch(`/api/v1/conversations/${g.id}`, erin.token, { title: 'Erin’s now' });
    expect(patched.status, patched.text).toBe(200);
    expectError(await env.api.patch(`/api/v1/conversations/${g.id}`, bob.token, { title: 'Bob’s?' }), 403, 'FORBIDDEN');
  });

  it('direct: adding a member → 403, removing the other → 403, leaving is allowed; creating it again brings the leaver back', async () => {
    const d = await createConversation(env.api, carol, { type: 'direct', memberIds: [dave.id] });
    expectError(await addMember(carol, d.id, erin.id), 403, 'FORBIDDEN');
    expectError(await removeMember(carol, d.id, dave.id), 403, 'FORBIDDEN');
    expect((await removeMember(dave, d.id, dave.id)).status).toBe(200);
    expect(await itemInList(env.api, dave, d.id)).toBeUndefined();
    expect((await itemInList(env.api, carol, d.id)).memberCount).toBe(1);

    const again = await env.api.post('/api/v1/conversations', dave.token, { type: 'direct', memberIds: [carol.id] });
    expect(again.status, again.text).toBe(200);
    expect(again.body.data).toMatchObject({ id: d.id, memberCount: 2, title: 'Carol' });
    expect((await itemInList(env.api, carol, d.id)).memberCount).toBe(2);
  });

  describe('joining a public conversation', () => {
    let square: any;
    beforeAll(async () => {
      square = await createConversation(env.api, alice, { type: 'public', title: 'Square', memberIds: [bob.id] });
      for (const text of ['one', 'two', 'three']) await postMessage(env.api, bob, square.id, text);
    });

    it('anyone may join: 200 with the item, nothing unread although there is history; the others see the new count', async () => {
      const res = await env.api.post(`/api/v1/conversations/${square.id}/join`, erin.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ id: square.id, type: 'public', memberCount: 3, unreadCount: 0, lastMessage: { content: 'three' } });
      expect(roleOf(res.body.data, erin)).toBe('member');
      expect(await itemInList(env.api, erin, square.id)).toMatchObject({ unreadCount: 0, memberCount: 3 });
      expect((await itemInList(env.api, alice, square.id)).memberCount).toBe(3);
      expect(previewIds(await itemInList(env.api, bob, square.id))).toContain(erin.id);
      await postMessage(env.api, erin, square.id, 'hello square');
      expect((await itemInList(env.api, alice, square.id)).unreadCount).toBe(4);
    });

    it('joining twice → 409, changing nothing', async () => {
      expectError(await env.api.post(`/api/v1/conversations/${square.id}/join`, erin.token), 409, 'CONFLICT');
      expectError(await env.api.post(`/api/v1/conversations/${square.id}/join`, alice.token), 409, 'CONFLICT');
      expect((await getConversation(env.api, alice, square.id)).memberCount).toBe(3);
    });

    it('joining a group or a direct conversation → 404 (as if it did not exist)', async () => {
      const g = await createGroup(env.api, alice, [bob], 'Closed');
      const d = await createConversation(env.api, alice, { type: 'direct', memberIds: [bob.id] });
      for (const id of [g.id, d.id]) {
        expectError(await env.api.post(`/api/v1/conversations/${id}/join`, dave.token), 404, 'NOT_FOUND');
        expect(await itemInList(env.api, dave, id)).toBeUndefined();
      }
      expect((await getConversation(env.api, alice, g.id)).memberCount).toBe(2);
    });

    it('a member who left may join again', async () => {
      expect((await removeMember(erin, square.id, erin.id)).status).toBe(200);
      expect(await itemInList(env.api, erin, square.id)).toBeUndefined();
      expect((await itemInList(env.api, alice, square.id)).memberCount).toBe(2);
      const res = await env.api.post(`/api/v1/conversations/${square.id}/join`, erin.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ memberCount: 3, unreadCount: 0 });
    });
  });
  describe('a direct conversation someone left', () => {
    it('comes back to their list, unread, when the other side writes again', async () => {
      const direct = await createConversation(env.api, dave, { type: 'direct', memberIds: [erin.id] });
      await postMessage(env.api, dave, direct.id, 'before leaving');
      expect((await removeMember(erin, direct.id, erin.id)).status).toBe(200);
      expect(await itemInList(env.api, erin, direct.id)).toBeUndefined();
      await postMessage(env.api, dave, direct.id, 'are you there?');
      const back = await itemInList(env.api, erin, direct.id);
      expect(back).toMatchObject({ memberCount: 2, unreadCount: 1, lastMessage: { content: 'are you there?' } });
    });

    it('creating it again brings back the caller only; the other comes back with the next message', async () => {
      const direct = await createConversation(env.api, carol, { type: 'direct', memberIds: [erin.id] });
      expect((await removeMember(erin, direct.id, erin.id)).status).toBe(200);
      const again = await env.api.post('/api/v1/conversations', carol.token, { type: 'direct', memberIds: [erin.id] });
      expect(again.status).toBe(200);
      expect(again.body.data).toMatchObject({ id: direct.id, memberCount: 1 });
      expect(await itemInList(env.api, erin, direct.id)).toBeUndefined();
      await postMessage(env.api, carol, direct.id, 'still there?');
      expect(await itemInList(env.api, erin, direct.id)).toMatchObject({ id: direct.id, title: 'Carol', memberCount: 2, unreadCount: 1 });
    });
  });
});
