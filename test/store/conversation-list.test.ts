import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/index.js';
import type { ListQuery } from '../../src/model/model.js';
import { queryConversationList } from '../../src/store/conversation-list.js';
import { createConversation, createGroup, registerUsers, SETUP_TIMEOUT_MS, type TestUser } from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/**
 * The list query on real PostgreSQL: one statement per page, whatever the page and its filters,
 * including an empty page, whose total must come from the same snapshot as its (absent) rows.
 */
describe('queryConversationList (postgres)', () => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser, carol: TestUser, dave: TestUser;
  const statements: string[] = [];
  let counting: Queryable;

  beforeAll(async () => {
    env = await setupEnv('postgres');
    [alice, bob, carol, dave] = (await registerUsers(env.api, 4)) as [TestUser, TestUser, TestUser, TestUser];
    await createConversation(env.api, alice, { type: 'direct', memberIds: [bob.id] });
    for (let i = 0; i < 3; i++) await createGroup(env.api, alice, [carol], `G${i}`);
    const db = env.database!.db;
    counting = {
      query: (sql, params) => {
        statements.push(sql);
        return db.query(sql, params);
      },
      exec: (sql) => db.exec(sql),
    };
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const run = async (userId: string, q: Partial<ListQuery>) => {
    statements.length = 0;
    const r = await queryConversationList(counting, userId, { limit: 20, offset: 0, ...q });
    return { ...r, statements: statements.length };
  };

  it.each<[string, () => string, () => Partial<ListQuery>, number, number]>([
    ['a first page', () => alice.id, () => ({}), 4, 4],
    ['a page of 2 (more follow)', () => alice.id, () => ({ limit: 2 }), 2, 4],
    ['a page past the end', () => alice.id, () => ({ offset: 10 }), 0, 4],
    ['no conversations at all', () => dave.id, () => ({}), 0, 0],
    ['type=group', () => alice.id, () => ({ type: 'group' }), 3, 3],
    ['type=public (none)', () => alice.id, () => ({ type: 'public' }), 0, 0],
    ['withUserId=carol', () => alice.id, () => ({ withUserId: carol.id }), 3, 3],
    ['withUserId + type=direct, past the end', () => alice.id, () => ({ withUserId: bob.id, type: 'direct', offset: 1 }), 0, 1],
  ])('%s: one statement, %i items, total %i', async (_label, user, q, items, total) => {
    const r = await run(user(), q());
    expect(r.statements).toBe(1);
    expect(r.items).toHaveLength(items);
    expect(r.total).toBe(total);
    expect(r.hasMore).toBe((q().offset ?? 0) + items < total);
  });

  it('a cursor page is one statement too, and continues where the first page stopped', async () => {
    const first = await run(alice.id, { limit: 2 });
    expect(first.last).not.toBeNull();
    const second = await run(alice.id, { limit: 2, before: first.last! });
    expect(second.statements).toBe(1);
    const ids = [...first.items, ...second.items].map((i) => JSON.parse(i).id);
    expect(new Set(ids).size).toBe(4);
    expect(second.hasMore).toBe(false);
  });
});
