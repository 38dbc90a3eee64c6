import type { Gateway } from './server.js';

export const DEMO_PASSWORD = 'chatgate-demo';

/**
 * First start of an empty embedded database: a few users and conversations, created through the
 * domain services like any client would, so `npm start` shows a list that is not empty.
 */
export async function seedDemo(gw: Gateway): Promise<boolean> {
  const { rows } = await gw.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  if (rows[0]!.n > 0) return false;
  const [alice, bob, carol] = await Promise.all(
    [
      ['alice', 'Alice'],
      ['bob', 'Bob'],
      ['carol', 'Carol'],
    ].map(([username, displayName]) => gw.users.register({ username: username!, password: DEMO_PASSWORD, displayName })),
  );
  const a = alice!.user.id;
  const b = bob!.user.id;
  const c = carol!.user.id;
  const direct = JSON.parse((await gw.conversations.create(a, { type: 'direct', memberIds: [b] })).item) as { id: string };
  await gw.messages.post(b, direct.id, { content: 'Hi Alice! Lunch tomorrow?' });
  await gw.messages.post(a, direct.id, { content: 'Sure, 12:30?' });
  const group = JSON.parse((await gw.conversations.create(a, { type: 'group', title: 'Weekend trip', memberIds: [b, c] })).item) as { id: string };
  await gw.messages.post(c, group.id, { content: 'I found a cabin by the lake.' });
  await gw.messages.post(b, group.id, { content: 'Looks great, count me in.' });
  const pub = JSON.parse((await gw.conversations.create(c, { type: 'public', title: 'chatgate users', memberIds: [] })).item) as { id: string };
  await gw.messages.post(c, pub.id, { content: 'Welcome! Anyone may join this one.' });
  return true;
}
