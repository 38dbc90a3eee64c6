import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockMembership, removeMember } from '../../src/store/conversations.js';
import { createGroup, expectError, postMessage, registerUsers, SETUP_TIMEOUT_MS, type TestUser } from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/**
 * A read marker racing a leave, on real PostgreSQL: Bob's leave holds the membership lock (in a
 * transaction of the test's own), his POST /read arrives meanwhile and waits; the leave commits.
 * The read must then see him gone, as a message would: the not-a-member answer, and neither his
 * marker nor his list's version moved.
 */
describe('markRead waiting on a leave (postgres)', () => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser;
  let conversationId: string;

  beforeAll(async () => {
    env = await setupEnv('postgres');
    [alice, bob] = (await registerUsers(env.api, 2)) as [TestUser, TestUser];
    conversationId = (await createGroup(env.api, alice, [bob])).id;
    await postMessage(env.api, alice, conversationId, 'unread by bob');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  it('answers 404 and moves nothing once the leave has committed', async () => {
    const database = env.database!;
    const db = database.db;
    const marker = async () =>
      (await db.query<{ last: string }>('SELECT last_read_message_id::text AS last FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [conversationId, bob.id])).rows[0]!.last;
    const listVersion = async () =>
      (await db.query<{ v: string }>('SELECT version::text AS v FROM member_list_versions WHERE user_id = $1', [bob.id])).rows[0]?.v ?? null;
    const markerBefore = await marker();
    const versionBefore = await listVersion();

    let commitLeave!: () => void;
    const leaveMayCommit = new Promise<void>((r) => (commitLeave = r));
    let leaveLocked!: () => void;
    const leaveHasLock = new Promise<void>((r) => (leaveLocked = r));
    const leave = db.transaction(async (tx) => {
      expect(await lockMembership(tx, conversationId, bob.id)).not.toBeNull();
      expect(await removeMember(tx, conversationId, bob.id)).toBe(true);
      leaveLocked();
      await leaveMayCommit;
    });
    await leaveHasLock;

    const read = env.api.post(`/api/v1/conversations/${conversationId}/read`, bob.token, {});
    // The leave is released only once the read is waiting for a lock it holds (seen by the server, not guessed from a delay).
    for (;;) {
      const waiting = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
        [database.name],
      );
      if (waiting.rows[0]!.n > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    commitLeave();
    await leave;

    expectError(await read, 404, 'NOT_FOUND');
    expect(await marker()).toBe(markerBefore);
    expect(await listVersion()).toBe(versionBefore);
  });
});
