import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConversation,
  createGroup,
  expectError,
  getConversation,
  itemInList,
  listConversations,
  listIds,
  markRead,
  postMessage,
  registerInOrder,
  nextMillisecond,
  SETUP_TIMEOUT_MS,
  type TestUser,
} from '../../helpers/fixtures.js';
import { SETUPS_WITH_CLUSTER, setupEnv } from '../../helpers/gateway.js';

/** The contract's order: coalesce(lastMessageAt, createdAt) descending, then id descending. */
function expectContractOrder(items: any[]): void {
  for (let i = 1; i < items.length; i++) {
    const a = items[i - 1];
    const b = items[i];
    const ka: string = a.lastMessageAt ?? a.createdAt;
    const kb: string = b.lastMessageAt ?? b.createdAt;
    expect(ka > kb || (ka === kb && BigInt(a.id) > BigInt(b.id)), `${a.id} (${ka}) before ${b.id} (${kb})`).toBe(true);
  }
}

const previewIds = (item: any) => item.members.map((m: any) => m.userId);

describe.each(SETUPS_WITH_CLUSTER)('the conversation list (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let vera: TestUser, paul: TestUser, quinn: TestUser, wanda: TestUser;
  let alice: TestUser, bob: TestUser, carol: TestUser, dan: TestUser, eve: TestUser;
  beforeAll(async () => {
    env = await setupEnv(backend);
    // In order, so that ids ascend with the names below (ties of joinedAt are broken by user id).
    [vera, paul, quinn, wanda, alice, bob, carol, dan, eve] = (await registerInOrder(env.api, [
      'Vera', 'Paul', 'Quinn', 'Wanda', 'Alice', 'Bob', 'Carol', 'Dan', 'Eve',
    ])) as [TestUser, TestUser, TestUser, TestUser, TestUser, TestUser, TestUser, TestUser, TestUser];
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const page = async (u: TestUser, query: string) => (await listConversations(env.api, u, query)).body;

  describe('order, paging and filters (Vera’s list of 7)', () => {
    // c[1]..c[7], created in this order; c[0] unused.
    const c: any[] = [];
    const ids = (...n: number[]) => n.map((i) => c[i].id);
    beforeAll(async () => {
      c[1] = await createGroup(env.api, vera, [paul], 'g1');
      c[2] = await createConversation(env.api, vera, { type: 'direct', memberIds: [paul.id] });
      c[3] = await createConversation(env.api, vera, { type: 'public', title: 'pub1', memberIds: [] });
      c[4] = await createGroup(env.api, vera, [quinn], 'g2');
      c[5] = await createConversation(env.api, vera, { type: 'direct', memberIds: [quinn.id] });
      c[6] = await createGroup(env.api, vera, [paul, quinn], 'g3');
      c[7] = await createConversation(env.api, vera, { type: 'public', title: 'pub2', memberIds: [paul.id] });
      await nextMillisecond();
      await postMessage(env.api, vera, c[3].id, 'to pub1');
      await nextMillisecond();
      await postMessage(env.api, paul, c[1].id, 'to g1');
    });

    it('orders by coalesce(lastMessageAt, createdAt) desc, then id desc: the two with messages first, then newest created', async () => {
      const body = await page(vera, '');
      expect(body.data.map((x: any) => x.id)).toEqual(ids(1, 3, 7, 6, 5, 4, 2));
      expectContractOrder(body.data);
      expect(body.pagination).toEqual({ offset: 0, limit: 20, total: 7, hasMore: false, nextCursor: null });
    });

    it('offset paging: total, hasMore, and pages that add up to the list', async () => {
      const p1 = await page(vera, 'limit=3');
      expect(p1.data.map((x: any) => x.id)).toEqual(ids(1, 3, 7));
      expect(p1.pagination).toMatchObject({ offset: 0, limit: 3, total: 7, hasMore: true, nextCursor: expect.any(String) });
      const p2 = await page(vera, 'limit=3&offset=3');
      expect(p2.data.map((x: any) => x.id)).toEqual(ids(6, 5, 4));
      expect(p2.pagination).toMatchObject({ offset: 3, limit: 3, total: 7, hasMore: true });
      const p3 = await page(vera, 'limit=3&offset=6');
      expect(p3.data.map((x: any) => x.id)).toEqual(ids(2));
      expect(p3.pagination).toEqual({ offset: 6, limit: 3, total: 7, hasMore: false, nextCursor: null });
      const past = await page(vera, 'limit=3&offset=7');
      expect(past.data).toEqual([]);
      expect(past.pagination).toEqual({ offset: 7, limit: 3, total: 7, hasMore: false, nextCursor: null });
      const exact = await page(vera, 'limit=7');
      expect(exact.pagination).toMatchObject({ total: 7, hasMore: false, nextCursor: null });
    });

    it('cursor paging: following nextCursor walks the whole list once, and the last page has nextCursor null', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const body = await page(vera, `limit=2${cursor ? `&before=${encodeURIComponent(cursor)}` : ''}`);
        seen.push(...body.data.map((x: any) => x.id));
        expect(body.pagination.total).toBe(7);
        expect(body.pagination.hasMore).toBe(body.pagination.nextCursor !== null);
        cursor = body.pagination.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(4);
      expect(seen).toEqual(ids(1, 3, 7, 6, 5, 4, 2));
    });

    it('a cursor goes with offset=0 but not with offset>0; an invalid cursor → 400', async () => {
      const cursor = encodeURIComponent((await page(vera, 'limit=3')).pagination.nextCursor);
      expect((await page(vera, `limit=3&offset=0&before=${cursor}`)).data.map((x: any) => x.id)).toEqual(ids(6, 5, 4));
      expectError(await env.api.get(`/api/v1/conversations?limit=3&offset=1&before=${cursor}`, vera.token), 400, 'VALIDATION_ERROR');
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      for (const bad of ['not-a-cursor!', 'abc', b64({ sortAt: '2024-01-01T00:00:00.000Z', id: '1' }), b64(['yesterday', '1']), b64(['2024-01-01T00:00:00.000Z', 'abc']), b64(['2024-01-01T00:00:00.000Z']), 'x'.repeat(201), '\u0000',
        // Shaped like a cursor, but not a real instant: still the client's fault, never a 5xx.
        b64(['2024-13-45T25:61:61.000Z', '1']), b64(['0000-00-00T00:00:00.000Z', '1']), b64(['2024-01-01T00:00:00.000Z', '999999999999999999999'])]) {
        expectError(await env.api.get(`/api/v1/conversations?before=${encodeURIComponent(bad)}`, vera.token), 400, 'VALIDATION_ERROR');
      }
    });

    it('cursor paging over a list that changes between pages: no duplicates, no unmoved item skipped', async () => {
      const p1 = await page(vera, 'limit=3');
      expect(p1.data.map((x: any) => x.id)).toEqual(ids(1, 3, 7));
      // Between the pages: c3 (already seen) and c5 (not yet seen) get new messages and move to the top.
      await postMessage(env.api, vera, c[3].id, 'bump seen');
      await nextMillisecond();
      await postMessage(env.api, quinn, c[5].id, 'bump unseen');
      expect(await listIds(env.api, vera)).toEqual(ids(5, 3, 1, 7, 6, 4, 2));

      const rest: string[] = [];
      let cursor: string | null = p1.pagination.nextCursor;
      for (let i = 0; cursor && i < 10; i++) {
        const body = await page(vera, `limit=3&before=${encodeURIComponent(cursor)}`);
        rest.push(...body.data.map((x: any) => x.id));
        cursor = body.pagination.nextCursor;
      }
      const all = [...p1.data.map((x: any) => x.id), ...rest];
      expect(new Set(all).size, `duplicates in ${all}`).toBe(all.length);
      // Every item that did not move is there, in list order after the first page.
      expect(rest.filter((id) => id !== c[5].id)).toEqual(ids(6, 4, 2));
    });

    it('type filter: only that type, with its own total', async () => {
      // The list is now c5, c3, c1, c7, c6, c4, c2.
      const direct = await page(vera, 'type=direct');
      expect(direct.data.map((x: any) => x.id)).toEqual(ids(5, 2));
      expect(direct.pagination).toMatchObject({ total: 2, hasMore: false });
      expect((await page(vera, 'type=group')).data.map((x: any) => x.id)).toEqual(ids(1, 6, 4));
      const pub = await page(vera, 'type=public');
      expect(pub.data.map((x: any) => x.id)).toEqual(ids(3, 7));
      expect(pub.data.every((x: any) => x.type === 'public')).toBe(true);
      const g1 = await page(vera, 'type=group&limit=2');
      expect(g1.data.map((x: any) => x.id)).toEqual(ids(1, 6));
      expect(g1.pagination).toMatchObject({ total: 3, hasMore: true });
      const g2 = await page(vera, `type=group&limit=2&before=${encodeURIComponent(g1.pagination.nextCursor)}`);
      expect(g2.data.map((x: any) => x.id)).toEqual(ids(4));
      expect(g2.pagination).toMatchObject({ total: 3, hasMore: false, nextCursor: null });
    });

    it('withUserId filter: only conversations where that user is also an active member', async () => {
      const withPaul = await page(vera, `withUserId=${paul.id}`);
      expect(withPaul.data.map((x: any) => x.id)).toEqual(ids(1, 7, 6, 2));
      expect(withPaul.pagination.total).toBe(4);
      expect((await page(vera, `withUserId=${quinn.id}`)).data.map((x: any) => x.id)).toEqual(ids(5, 6, 4));
      expect((await page(vera, `withUserId=${quinn.id}&type=group`)).data.map((x: any) => x.id)).toEqual(ids(6, 4));
      expect((await page(vera, `withUserId=${vera.id}`)).pagination.total).toBe(7);
      const nobody = await page(vera, 'withUserId=999999999999');
      expect(nobody).toEqual({ success: true, data: [], pagination: { offset: 0, limit: 20, total: 0, hasMore: false, nextCursor: null } });
      // Paul leaves g3: it no longer counts as shared with him.
      expect((await env.api.delete(`/api/v1/conversations/${c[6].id}/members/${paul.id}`, paul.token)).status).toBe(200);
      const after = await page(vera, `withUserId=${paul.id}`);
      expect(after.data.map((x: any) => x.id)).toEqual(ids(1, 7, 2));
      expect(after.pagination.total).toBe(3);
    });

    it.each(['limit=0', 'limit=101', 'limit=x', 'offset=-1', 'offset=x', 'type=channel', 'withUserId=abc', 'sort=asc'])('?%s → 400', async (q) => {
      expectError(await env.api.get(`/api/v1/conversations?${q}`, vera.token), 400, 'VALIDATION_ERROR');
    });

    it('limit=100 is allowed', async () => {
      expect((await page(vera, 'limit=100')).pagination).toMatchObject({ limit: 100, total: 7 });
    });
  });

  describe('lastMessage (Wanda’s list)', () => {
    let d1: any, d2: any;
    let m: any[];
    beforeAll(async () => {
      d1 = await createGroup(env.api, wanda, [paul], 'older');
      d2 = await createGroup(env.api, wanda, [paul], 'newer');
      await nextMillisecond();
      m = [
        await postMessage(env.api, paul, d1.id, 'first'),
        await postMessage(env.api, wanda, d1.id, 'second'),
        await postMessage(env.api, paul, d1.id, 'third'),
      ];
    });

    it('is the newest message, with its sender; it lifts the conversation to the top', async () => {
      expect(await listIds(env.api, wanda)).toEqual([d1.id, d2.id]);
      const item = await itemInList(env.api, wanda, d1.id);
      expect(item.lastMessage).toEqual({
        id: m[2].id,
        content: 'third',
        senderId: paul.id,
        sender: { id: paul.id, username: paul.username, displayName: 'Paul', avatar: null },
        createdAt: m[2].createdAt,
        editedAt: null,
      });
      expect(item.lastMessageAt).toBe(m[2].createdAt);
      expect((await itemInList(env.api, wanda, d2.id)).lastMessage).toBeNull();
    });

    it('deleting the newest falls back to the one before; deleting an older one changes nothing', async () => {
      expect((await env.api.delete(`/api/v1/conversations/${d1.id}/messages/${m[2].id}`, paul.token)).status).toBe(200);
      let item = await itemInList(env.api, wanda, d1.id);
      expect(item.lastMessage).toMatchObject({ id: m[1].id, content: 'second', senderId: wanda.id, sender: { displayName: 'Wanda' } });
      expect(item.lastMessageAt).toBe(m[1].createdAt);
      expect(await getConversation(env.api, paul, d1.id)).toMatchObject({ lastMessage: { id: m[1].id }, lastMessageAt: m[1].createdAt });

      expect((await env.api.delete(`/api/v1/conversations/${d1.id}/messages/${m[0].id}`, paul.token)).status).toBe(200);
      item = await itemInList(env.api, wanda, d1.id);
      expect(item.lastMessage.id).toBe(m[1].id);
      expect(await listIds(env.api, wanda)).toEqual([d1.id, d2.id]);
    });

    it('deleting them all: lastMessage and lastMessageAt null, and the order falls back to createdAt', async () => {
      expect((await env.api.delete(`/api/v1/conversations/${d1.id}/messages/${m[1].id}`, wanda.token)).status).toBe(200);
      const body = await page(wanda, '');
      expect(body.data.map((x: any) => x.id)).toEqual([d2.id, d1.id]);
      expect(body.data[1]).toMatchObject({ id: d1.id, lastMessage: null, lastMessageAt: null, unreadCount: 0 });
      expectContractOrder(body.data);
      // A new message lifts it again.
      const again = await postMessage(env.api, paul, d1.id, 'fourth');
      expect(await listIds(env.api, wanda)).toEqual([d1.id, d2.id]);
      expect((await itemInList(env.api, wanda, d1.id)).lastMessage).toMatchObject({ id: again.id, content: 'fourth' });
    });
  });

  describe('unreadCount', () => {
    let g: any;
    const b: any[] = [];
    let a1: any;
    const unread = async (u: TestUser) => (await itemInList(env.api, u, g.id)).unreadCount as number;

    beforeAll(async () => {
      g = await createGroup(env.api, alice, [bob, carol], 'Unread');
    });

    it('after bob posts 3: alice and carol have 3 unread, bob (the sender) 0', async () => {
      for (let i = 1; i <= 3; i++) b[i] = await postMessage(env.api, bob, g.id, `b${i}`);
      expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([3, 0, 3]);
    });

    it('alice reads up to #2 → 1; reading up to #1 afterwards does not move the marker back', async () => {
      expect((await markRead(env.api, alice, g.id, b[2].id)).unreadCount).toBe(1);
      expect(await unread(alice)).toBe(1);
      expect((await markRead(env.api, alice, g.id, b[1].id)).unreadCount).toBe(1);
      expect(await unread(alice)).toBe(1);
      expect(await unread(carol)).toBe(3);
    });

    it('editing a message changes no unread count', async () => {
      expect((await env.api.patch(`/api/v1/conversations/${g.id}/messages/${b[3].id}`, bob.token, { content: 'b3 (edited)' })).status).toBe(200);
      expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([1, 0, 3]);
    });

    it('one’s own messages are never unread', async () => {
      a1 = await postMessage(env.api, alice, g.id, 'a1');
      expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([1, 1, 4]);
    });

    it('deleting an unread message takes it out of the count', async () => {
      b[4] = await postMessage(env.api, bob, g.id, 'b4');
      b[5] = await postMessage(env.api, bob, g.id, 'b5');
      expect([await unread(alice), await unread(carol)]).toEqual([3, 6]);
      expect((await env.api.delete(`/api/v1/conversations/${g.id}/messages/${b[4].id}`, bob.token)).status).toBe(200);
      expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([2, 1, 5]);
    });

    it('read without messageId → 0; read up to a given message leaves what is newer', async () => {
      expect((await markRead(env.api, alice, g.id)).unreadCount).toBe(0);
      expect(await unread(alice)).toBe(0);
      // carol reads up to a1: only b5 remains (b4 is deleted).
      expect((await markRead(env.api, carol, g.id, a1.id)).unreadCount).toBe(1);
      expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([0, 1, 1]);
    });

    it('leave and re-add: gone from the list while away; back with nothing unread; new messages count again', async () => {
      expect((await env.api.delete(`/api/v1/conversations/${g.id}/members/${carol.id}`, carol.token)).status).toBe(200);
      expect(await itemInList(env.api, carol, g.id)).toBeUndefined();
      await postMessage(env.api, bob, g.id, 'while carol was away');
      expect(await unread(alice)).toBe(1);
      const readd = await env.api.post(`/api/v1/conversations/${g.id}/members`, alice.token, { userId: carol.id });
      expect(readd.status, readd.text).toBe(200);
      expect(await itemInList(env.api, carol, g.id)).toMatchObject({ unreadCount: 0, memberCount: 3, lastMessage: { content: 'while carol was away' } });
      await postMessage(env.api, bob, g.id, 'welcome back');
      expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([2, 1, 1]);
    });
  });

  describe('member previews and memberCount', () => {
    let g: any;
    it('at most 5 previews, oldest member first; memberCount counts all', async () => {
      g = await createGroup(env.api, alice, [bob], 'Big');
      for (const u of [carol, dan, eve, quinn]) {
        await nextMillisecond();
        const res = await env.api.post(`/api/v1/conversations/${g.id}/members`, alice.token, { userId: u.id });
        expect(res.status, res.text).toBe(200);
      }
      for (const viewer of [alice, quinn]) {
        const item = await itemInList(env.api, viewer, g.id);
        expect(item.memberCount).toBe(6);
        expect(previewIds(item)).toEqual([alice, bob, carol, dan, eve].map((u) => u.id));
        expect(item.members[0]).toMatchObject({ role: 'admin', user: { id: alice.id, username: alice.username, displayName: 'Alice', avatar: null } });
        expect(item.members.slice(1).every((x: any) => x.role === 'member')).toBe(true);
        const joined = item.members.map((x: any) => x.joinedAt);
        expect([...joined].sort()).toEqual(joined);
      }
    });

    it('a leaver drops out of the previews; when they are added back they are the newest member', async () => {
      expect((await env.api.delete(`/api/v1/conversations/${g.id}/members/${bob.id}`, bob.token)).status).toBe(200);
      let item = await itemInList(env.api, quinn, g.id);
      expect(item.memberCount).toBe(5);
      expect(previewIds(item)).toEqual([alice, carol, dan, eve, quinn].map((u) => u.id));
      await nextMillisecond();
      expect((await env.api.post(`/api/v1/conversations/${g.id}/members`, alice.token, { userId: bob.id })).status).toBe(200);
      item = await itemInList(env.api, carol, g.id);
      expect(item.memberCount).toBe(6);
      expect(previewIds(item)).toEqual([alice, carol, dan, eve, quinn].map((u) => u.id));
    });
  });

  describe('names: direct titles, previews and senders follow PATCH /users/me', () => {
    let direct: any;
    let group: any;
    beforeAll(async () => {
      direct = await createConversation(env.api, dan, { type: 'direct', memberIds: [wanda.id] });
      group = await createGroup(env.api, dan, [wanda], 'Names');
      await postMessage(env.api, wanda, group.id, 'hello from wanda');
    });

    it('the title of a direct conversation is the other member’s displayName, for each side', async () => {
      expect((await itemInList(env.api, dan, direct.id)).title).toBe('Wanda');
      expect((await itemInList(env.api, wanda, direct.id)).title).toBe('Dan');
    });

    it('after a rename, co-members see the new name in titles, previews and lastMessage.sender', async () => {
      const res = await env.api.patch('/api/v1/users/me', wanda.token, { displayName: 'Wanda Maximoff', avatar: 'https://img.example/w.png' });
      expect(res.status, res.text).toBe(200);
      const renamed = { id: wanda.id, username: wanda.username, displayName: 'Wanda Maximoff', avatar: 'https://img.example/w.png' };

      expect((await itemInList(env.api, dan, direct.id)).title).toBe('Wanda Maximoff');
      expect((await getConversation(env.api, dan, direct.id)).title).toBe('Wanda Maximoff');
      expect((await page(dan, 'type=direct')).data.find((x: any) => x.id === direct.id).title).toBe('Wanda Maximoff');
      const item = await itemInList(env.api, dan, group.id);
      expect(item.lastMessage.sender).toEqual(renamed);
      expect(item.members.find((x: any) => x.userId === wanda.id).user).toEqual(renamed);
      // Wanda's own view of the direct conversation is still titled with Dan's name.
      expect((await itemInList(env.api, wanda, direct.id)).title).toBe('Dan');
      // And everywhere else Wanda is a member (Paul's conversations with her).
      const withPaul = await page(paul, `withUserId=${wanda.id}`);
      expect(withPaul.data.length).toBe(2);
      for (const x of withPaul.data) expect(x.members.find((mm: any) => mm.userId === wanda.id).user.displayName).toBe('Wanda Maximoff');
    });

    it('a rename reaches conversations the user has left: the direct title and their last message (cached lists included)', async () => {
      const d = await createConversation(env.api, paul, { type: 'direct', memberIds: [quinn.id] });
      const g = await createGroup(env.api, paul, [quinn], 'Left behind');
      await postMessage(env.api, quinn, g.id, 'bye all');
      for (const id of [d.id, g.id]) expect((await env.api.delete(`/api/v1/conversations/${id}/members/${quinn.id}`, quinn.token)).status).toBe(200);
      // Paul's list is now cached with Quinn's old name in both.
      await env.api.get('/api/v1/conversations?limit=100', paul.token);
      expect((await env.api.get('/api/v1/conversations?limit=100', paul.token)).headers.get('x-cache')).toBe('HIT-L1');
      expect((await env.api.patch('/api/v1/users/me', quinn.token, { displayName: 'Quinn Renamed' })).status).toBe(200);
      const after = await env.api.get('/api/v1/conversations?limit=100', paul.token);
      const byId = new Map(after.body.data.map((x: any) => [x.id, x]));
      expect((byId.get(d.id) as any).title).toBe('Quinn Renamed');
      expect((byId.get(g.id) as any).lastMessage.sender.displayName).toBe('Quinn Renamed');
      expect((await env.api.patch('/api/v1/users/me', quinn.token, { displayName: 'Quinn' })).status).toBe(200);
    });
  });

  describe('ETag, 304 and cache headers', () => {
    it('the same ETag twice; If-None-Match → 304 without a body; a write changes it', async () => {
      const r1 = await env.api.get('/api/v1/conversations', quinn.token);
      const r2 = await env.api.get('/api/v1/conversations', quinn.token);
      expect(r1.status).toBe(200);
      const etag = r1.headers.get('etag');
      expect(etag).toMatch(/^(W\/)?".+"$/);
      expect(r2.headers.get('etag')).toBe(etag);
      expect(r2.text).toBe(r1.text);
      for (const r of [r1, r2]) {
        expect(r.headers.get('cache-control')).toBe('private, no-cache');
        expect(['HIT-L1', 'HIT-L2', 'MISS', 'BYPASS']).toContain(r.headers.get('x-cache'));
      }

      const notModified = await env.api.get('/api/v1/conversations', quinn.token, { 'if-none-match': etag! });
      expect(notModified.status).toBe(304);
      expect(notModified.text).toBe('');
      expect(notModified.headers.get('etag')).toBe(etag);
      const other = await env.api.get('/api/v1/conversations', quinn.token, { 'if-none-match': '"something-else"' });
      expect(other.status).toBe(200);
      expect(other.text).toBe(r1.text);

      // Vera writes to their direct conversation: Quinn's list changes, and so does its ETag.
      await postMessage(env.api, vera, (await page(quinn, `withUserId=${vera.id}&type=direct`)).data[0].id, 'new for quinn');
      const r3 = await env.api.get('/api/v1/conversations', quinn.token, { 'if-none-match': etag! });
      expect(r3.status).toBe(200);
      expect(r3.headers.get('etag')).not.toBe(etag);
      expect(r3.body.data[0].lastMessage.content).toBe('new for quinn');
      const r4 = await env.api.get('/api/v1/conversations', quinn.token, { 'if-none-match': r3.headers.get('etag')! });
      expect(r4.status).toBe(304);
    });

    it('the ETag is per page: another query has its own', async () => {
      const all = await env.api.get('/api/v1/conversations', quinn.token);
      const one = await env.api.get('/api/v1/conversations?limit=1', quinn.token);
      expect(one.headers.get('etag')).not.toBe(all.headers.get('etag'));
      expect((await env.api.get('/api/v1/conversations?limit=1', quinn.token, { 'if-none-match': all.headers.get('etag')! })).status).toBe(200);
    });
  });

  describe('rejected writes change nobody’s list', () => {
    it('lists and ETags of the members are byte-for-byte the same after a series of rejected writes', async () => {
      const g = await createGroup(env.api, eve, [dan], 'Stable');
      const msg = await postMessage(env.api, eve, g.id, 'by eve');
      const d = await createConversation(env.api, eve, { type: 'direct', memberIds: [dan.id] });
      const pub = await createConversation(env.api, eve, { type: 'public', title: 'Stable square', memberIds: [dan.id] });
      const snapshot = async () =>
        Promise.all(
          [eve, dan].map(async (u) => {
            const r = await env.api.get('/api/v1/conversations?limit=100', u.token);
            return { etag: r.headers.get('etag'), text: r.text };
          }),
        );
      const before = await snapshot();

      const rejected: Array<[number, () => Promise<any>]> = [
        [400, () => env.api.post(`/api/v1/conversations/${g.id}/messages`, dan.token, { content: '   ' })],
        [400, () => env.api.post(`/api/v1/conversations/${g.id}/messages`, dan.token, { content: 'x'.repeat(4001) })],
        [413, () => env.api.post(`/api/v1/conversations/${g.id}/messages`, dan.token, { content: 'x'.repeat(70_000) })],
        [403, () => env.api.patch(`/api/v1/conversations/${g.id}/messages/${msg.id}`, dan.token, { content: 'not mine' })],
        [403, () => env.api.delete(`/api/v1/conversations/${g.id}/messages/${msg.id}`, dan.token)],
        [403, () => env.api.patch(`/api/v1/conversations/${g.id}`, dan.token, { title: 'Renamed by a member' })],
        [403, () => env.api.patch(`/api/v1/conversations/${d.id}`, eve.token, { title: 'Direct title' })],
        [403, () => env.api.delete(`/api/v1/conversations/${g.id}`, dan.token)],
        [403, () => env.api.delete(`/api/v1/conversations/${g.id}/members/${eve.id}`, dan.token)],
        [409, () => env.api.post(`/api/v1/conversations/${g.id}/members`, eve.token, { userId: dan.id })],
        [409, () => env.api.post(`/api/v1/conversations/${pub.id}/join`, dan.token)],
        [400, () => env.api.post('/api/v1/conversations', eve.token, { type: 'group', title: 'Ghost', memberIds: [dan.id, '999999999999'] })],
        [400, () => env.api.post('/api/v1/conversations', eve.token, { type: 'direct', title: 'No', memberIds: [dan.id] })],
        [400, () => env.api.patch('/api/v1/users/me', dan.token, { displayName: '' })],
        [400, () => env.api.request('POST', `/api/v1/conversations/${g.id}/read`, { token: dan.token, rawBody: '{"messageId":' })],
      ];
      for (const [status, send] of rejected) {
        const res = await send();
        expect(res.status, res.text).toBe(status);
      }
      expect(await snapshot()).toEqual(before);
    });
  });
});
