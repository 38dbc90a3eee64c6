import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockMembership, removeMember } from '../../src/store/conversations.js';
import { createConversation, registerUsers, SETUP_TIMEOUT_MS, type TestUser } from '../helpers/fixtures.js';
import { setupEnv } from '../helpers/gateway.js';

/**
 * The membership lock under concurrency, on real PostgreSQL. A write locks the conversation row; a
 * second write waiting for that lock must then see the membership as the first one committed it.
 * Found by `npm run check:freshness`: a member who left a direct conversation while their own message
 * was waiting for the lock got that message accepted, and the message's "bring the other member back"
 * rule brought *them* back — an acknowledged leave undone.
 */
describe('lockMembership (postgres)', () => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser, bob: TestUser;
  let conversationId: string;

  beforeAll(async () => {
    env = await setupEnv('postgres');
    [alice, bob] = (await registerUsers(env.api, 2)) as [TestUser, TestUser];
    conversationId = (await createConversation(env.api, alice, { type: 'direct', memberIds: [bob.id] })).id;
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  it('a lock waiting on a leave that commits finds no membership', async () => {
    const db = env.database!.db;
    let commitLeave!: () => void;
    const leaveMayCommit = new Promise<void>((r) => (commitLeave = r));
    let leaveLocked!: () => void;
    const leaveHasLock = new Promise<void>((r) => (leaveLocked = r));
    const leave = db.transaction(async (tx) => {
      expect(await lockMembership(tx, conversationId, bob.id)).not.toBeNull();
      await removeMember(tx, conversationId, bob.id);
      leaveLocked();
      await leaveMayCommit;
    });
    await leaveHasLock;
    // Bob's own write, sent while his leave holds the lock: it waits, then must see him gone.
    const second = db.transaction(async (tx) => lockMembership(tx, conversationId, bob.id));
    await new Promise((r) => setTimeout(r, 100)); // the second lock is now waiting
    commitLeave();
    await leave;
    expect(await second).toBeNull();
  });
});
