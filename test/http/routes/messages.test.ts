import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConversation,
  createGroup,
  expectError,
  itemInList,
  listConversations,
  postMessage,
  registerInOrder,
  SETUP_TIMEOUT_MS,
  type TestUser,
} from '../../helpers/fixtures.js';
import { SETUPS_WITH_CLUSTER, setupEnv } from '../../helpers/gateway.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const summary = (u: TestUser) => ({ id: u.id, username: u.username, displayName: u.displayName, avatar: null });

describe.each(SETUPS_WITH_CLUSTER)('messages: history, post, edit, delete (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser, carol: TestUser;
  let group: any;
  let other: any;
  beforeAll(async () => {
    env = await setupEnv(backend);
    [alice, bob, carol] = (await registerInOrder(env.api, ['Alice', 'Bob', 'Carol'])) as [TestUser, TestUser, TestUser];
    group = await createGroup(env.api, alice, [bob, carol], 'Messages');
    other = await createGroup(env.api, alice, [bob], 'Elsewhere');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const url = (cid: string, mid?: string) => `/api/v1/conversations/${cid}/messages${mid ? `/${mid}` : ''}`;
  const post = (u: TestUser, cid: string, body: unknown) => env.api.post(url(cid), u.token, body);
  const history = async (u: TestUser, cid: string, query = '') => {
    const res = await env.api.get(`${url(cid)}${query ? `?${query}` : ''}`, u.token);
    expect(res.status, res.text).toBe(200);
    return res.body;
  };
  const contents = async (cid: string) => (await history(alice, cid, 'limit=100')).data.map((m: any) => m.content);

  describe('post', () => {
    it('201 with the message: content trimmed, sender included; the list shows it as lastMessage', async () => {
      const res = await post(bob, group.id, { content: '  hello there \n' });
      expect(res.status, res.text).toBe(201);
      const m = res.body.data;
      expect(res.body).toEqual({
        success: true,
        data: {
          id: expect.stringMatching(/^[1-9][0-9]*$/),
          conversationId: group.id,
          senderId: bob.id,
          sender: summary(bob),
          content: 'hello there',
          replyToId: null,
          createdAt: expect.stringMatching(ISO),
          editedAt: null,
        },
      });
      const item = await itemInList(env.api, carol, group.id);
      expect(item.lastMessage).toEqual({ id: m.id, content: 'hello there', senderId: bob.id, sender: summary(bob), createdAt: m.createdAt, editedAt: null });
      expect(item.lastMessageAt).toBe(m.createdAt);
      expect(item.unreadCount).toBe(1);
    });

    it('replyToId: a message of this conversation is kept; another conversation’s, an unknown or a deleted one → 400', async () => {
      const target = await postMessage(env.api, alice, group.id, 'question?');
      const reply = await post(carol, group.id, { content: 'answer', replyToId: target.id });
      expect(reply.status, reply.text).toBe(201);
      expect(reply.body.data.replyToId).toBe(target.id);

      const elsewhere = await postMessage(env.api, alice, other.id, 'not here');
      expectError(await post(carol, group.id, { content: 'x', replyToId: elsewhere.id }), 400, 'VALIDATION_ERROR');
      expectError(await post(carol, group.id, { content: 'x', replyToId: '999999999999' }), 400, 'VALIDATION_ERROR');
      const gone = await postMessage(env.api, carol, group.id, 'to be deleted');
      expect((await env.api.delete(url(group.id, gone.id), carol.token)).status).toBe(200);
      expectError(await post(carol, group.id, { content: 'x', replyToId: gone.id }), 400, 'VALIDATION_ERROR');
    });

    it('content of exactly 4000 characters (after trimming; astral characters count once) is accepted', async () => {
      const plain = 'a'.repeat(4000);
      const r1 = await post(alice, group.id, { content: plain });
      expect(r1.status, r1.text.slice(0, 200)).toBe(201);
      expect(r1.body.data.content).toBe(plain);
      const padded = await post(alice, group.id, { content: `   ${plain}\n\t ` });
      expect(padded.status).toBe(201);
      expect(padded.body.data.content).toBe(plain);
      const emoji = '😀'.repeat(4000);
      const r3 = await post(alice, group.id, { content: emoji });
      expect(r3.status, r3.text.slice(0, 200)).toBe(201);
      expect(r3.body.data.content).toBe(emoji);
    });

    describe('rejected posts change nothing', () => {
      let listBefore: { bob: any; etag: string | null };
      let historyBefore: string[];
      beforeAll(async () => {
        const l = await listConversations(env.api, bob, 'limit=100');
        listBefore = { bob: l.body, etag: l.headers.get('etag') };
        historyBefore = await contents(group.id);
      });

      it.each([
        ['4001 characters', { content: 'a'.repeat(4001) }],
        ['4001 astral characters', { content: '😀'.repeat(4001) }],
        ['whitespace only', { content: ' \n\t  ' }],
        ['an empty string', { content: '' }],
        ['a number', { content: 123 }],
        ['null', { content: null }],
        ['no content', {}],
        ['U+0000 in the content', { content: 'nul\u0000byte' }],
        ['an unknown field', { content: 'hi', senderId: '1' }],
        ['a replyToId that is not an id', { content: 'hi', replyToId: 'abc' }],
      ])('%s → 400', async (_label, body) => {
        expectError(await post(bob, group.id, body), 400, 'VALIDATION_ERROR');
      });

      it('malformed JSON → 400', async () => {
        expectError(await env.api.request('POST', url(group.id), { token: bob.token, rawBody: '{"content": "hi"' }), 400, 'VALIDATION_ERROR');
        expectError(await env.api.request('POST', url(group.id), { token: bob.token, rawBody: "{'content': 'hi'}" }), 400, 'VALIDATION_ERROR');
      });

      it('a body over 64 KiB → 413', async () => {
        expectError(await post(bob, group.id, { content: 'x'.repeat(70_000) }), 413, 'PAYLOAD_TOO_LARGE');
        expectError(await post(bob, group.id, { content: 'ok', pad: 'y'.repeat(65 * 1024) }), 413, 'PAYLOAD_TOO_LARGE');
      });

      it('history and every list are as they were', async () => {
        expect(await contents(group.id)).toEqual(historyBefore);
        const l = await listConversations(env.api, bob, 'limit=100');
        expect(l.body).toEqual(listBefore.bob);
        expect(l.headers.get('etag')).toBe(listBefore.etag);
      });
    });
  });

  describe('history', () => {
    let conv: any;
    let m: any[];
    beforeAll(async () => {
      conv = await createGroup(env.api, alice, [bob], 'History');
      m = [];
      for (let i = 1; i <= 5; i++) m.push(await postMessage(env.api, i % 2 ? alice : bob, conv.id, `m${i}`));
    });

    it('newest first, with the default page of 50', async () => {
      const body = await history(bob, conv.id);
      expect(body.data.map((x: any) => x.content)).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);
      expect(body.pagination).toEqual({ limit: 50, hasMore: false, nextCursor: null });
      expect(body.data[0]).toEqual(m[4]);
      expect(body.data[1].sender).toEqual(summary(bob));
    });

    it('pages with limit and the before cursor: {limit, hasMore, nextCursor}', async () => {
      const p1 = await history(bob, conv.id, 'limit=2');
      expect(p1.data.map((x: any) => x.content)).toEqual(['m5', 'm4']);
      expect(p1.pagination).toEqual({ limit: 2, hasMore: true, nextCursor: m[3].id });
      const p2 = await history(bob, conv.id, `limit=2&before=${p1.pagination.nextCursor}`);
      expect(p2.data.map((x: any) => x.content)).toEqual(['m3', 'm2']);
      expect(p2.pagination).toEqual({ limit: 2, hasMore: true, nextCursor: m[1].id });
      const p3 = await history(bob, conv.id, `limit=2&before=${p2.pagination.nextCursor}`);
      expect(p3.data.map((x: any) => x.content)).toEqual(['m1']);
      expect(p3.pagination).toEqual({ limit: 2, hasMore: false, nextCursor: null });
      // A page that ends exactly at the oldest message has no next page.
      const exact = await history(bob, conv.id, 'limit=5');
      expect(exact.pagination).toEqual({ limit: 5, hasMore: false, nextCursor: null });
      expect((await history(bob, conv.id, `before=${m[0].id}`)).data).toEqual([]);
    });

    it('leaves deleted messages out', async () => {
      expect((await env.api.delete(url(conv.id, m[2].id), alice.token)).status).toBe(200);
      expect((await history(bob, conv.id)).data.map((x: any) => x.content)).toEqual(['m5', 'm4', 'm2', 'm1']);
      const p = await history(bob, conv.id, 'limit=2');
      expect(p.pagination.nextCursor).toBe(m[3].id);
      expect((await history(bob, conv.id, `limit=2&before=${m[3].id}`)).data.map((x: any) => x.content)).toEqual(['m2', 'm1']);
    });

    it.each(['limit=0', 'limit=101', 'limit=abc', 'limit=-1', 'before=abc', 'before=0', 'offset=1', 'cursor=x'])('?%s → 400', async (q) => {
      expectError(await env.api.get(`${url(conv.id)}?${q}`, bob.token), 400, 'VALIDATION_ERROR');
    });
  });

  describe('edit', () => {
    let mine: any;
    beforeAll(async () => {
      mine = await postMessage(env.api, bob, group.id, 'frist');
    });

    it('the author edits: 200 with the message, content trimmed, editedAt set, createdAt kept; history and lists show it', async () => {
      const unreadBefore = (await itemInList(env.api, carol, group.id)).unreadCount;
      const res = await env.api.patch(url(group.id, mine.id), bob.token, { content: ' first ' });
      expect(res.status, res.text).toBe(200);
      const edited = res.body.data;
      expect(edited).toEqual({ ...mine, content: 'first', editedAt: expect.stringMatching(ISO) });
      expect(Date.parse(edited.editedAt)).toBeGreaterThanOrEqual(Date.parse(mine.createdAt));
      expect((await history(carol, group.id, 'limit=1')).data[0]).toEqual(edited);
      const item = await itemInList(env.api, carol, group.id);
      expect(item.lastMessage).toMatchObject({ id: mine.id, content: 'first', editedAt: edited.editedAt, createdAt: mine.createdAt });
      expect(item.lastMessageAt).toBe(mine.createdAt);
      expect(item.unreadCount).toBe(unreadBefore);
    });

    it('another member’s message → 403, even for an admin; nothing changes', async () => {
      expectError(await env.api.patch(url(group.id, mine.id), carol.token, { content: 'mine now' }), 403, 'FORBIDDEN');
      expectError(await env.api.patch(url(group.id, mine.id), alice.token, { content: 'admin edit' }), 403, 'FORBIDDEN');
      expect((await history(bob, group.id, 'limit=1')).data[0].content).toBe('first');
    });

    it('an unknown message, a deleted one, or one of another conversation → 404', async () => {
      expectError(await env.api.patch(url(group.id, '999999999999'), bob.token, { content: 'x' }), 404, 'NOT_FOUND');
      const elsewhere = await postMessage(env.api, bob, other.id, 'in other');
      expectError(await env.api.patch(url(group.id, elsewhere.id), bob.token, { content: 'x' }), 404, 'NOT_FOUND');
      const gone = await postMessage(env.api, bob, group.id, 'gone soon');
      expect((await env.api.delete(url(group.id, gone.id), bob.token)).status).toBe(200);
      expectError(await env.api.patch(url(group.id, gone.id), bob.token, { content: 'revived' }), 404, 'NOT_FOUND');
    });

    it.each([
      ['whitespace only', { content: '   ' }],
      ['4001 characters', { content: 'b'.repeat(4001) }],
      ['no content', {}],
      ['a number', { content: 5 }],
      ['an unknown field', { content: 'x', replyToId: '1' }],
    ])('%s → 400, the message unchanged', async (_label, body) => {
      expectError(await env.api.patch(url(group.id, mine.id), bob.token, body), 400, 'VALIDATION_ERROR');
      const found = (await history(bob, group.id, 'limit=100')).data.find((x: any) => x.id === mine.id);
      expect(found.content).toBe('first');
    });

    it('a body over 64 KiB → 413', async () => {
      expectError(await env.api.patch(url(group.id, mine.id), bob.token, { content: 'z'.repeat(66_000) }), 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  describe('delete', () => {
    it('the author deletes: 200 {messageId, deleted}; gone from history; a second delete → 404', async () => {
      const m = await postMessage(env.api, carol, group.id, 'oops');
      const res = await env.api.delete(url(group.id, m.id), carol.token);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ success: true, data: { messageId: m.id, deleted: true } });
      expect((await history(bob, group.id, 'limit=100')).data.map((x: any) => x.id)).not.toContain(m.id);
      expectError(await env.api.delete(url(group.id, m.id), carol.token), 404, 'NOT_FOUND');
    });

    it('another member’s message: 403 for a member, 200 for an admin of the conversation', async () => {
      const m = await postMessage(env.api, bob, group.id, 'spam');
      expectError(await env.api.delete(url(group.id, m.id), carol.token), 403, 'FORBIDDEN');
      expect((await history(bob, group.id, 'limit=1')).data[0].id).toBe(m.id);
      const res = await env.api.delete(url(group.id, m.id), alice.token);
      expect(res.status, res.text).toBe(200);
      expect((await history(bob, group.id, 'limit=100')).data.map((x: any) => x.id)).not.toContain(m.id);
    });

    it('in a direct conversation, only the author (nobody is admin there)', async () => {
      const d = await createConversation(env.api, alice, { type: 'direct', memberIds: [carol.id] });
      const m = await postMessage(env.api, alice, d.id, 'direct words');
      expectError(await env.api.delete(url(d.id, m.id), carol.token), 403, 'FORBIDDEN');
      expect((await env.api.delete(url(d.id, m.id), alice.token)).status).toBe(200);
    });

    it('a message of another conversation, addressed through this one → 404, and it survives', async () => {
      const elsewhere = await postMessage(env.api, alice, other.id, 'keep me');
      expectError(await env.api.delete(url(group.id, elsewhere.id), alice.token), 404, 'NOT_FOUND');
      expect((await history(bob, other.id, 'limit=1')).data[0].id).toBe(elsewhere.id);
    });
  });
});
