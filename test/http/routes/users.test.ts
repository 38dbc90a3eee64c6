import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, SETUP_TIMEOUT_MS, registerUsers, type TestUser } from '../../helpers/fixtures.js';
import { BACKENDS, setupEnv } from '../../helpers/gateway.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.each(BACKENDS)('users: lookup and profile (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    env = await setupEnv(backend);
    [alice, bob] = (await registerUsers(env.api, 2)) as [TestUser, TestUser];
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const bobAsUser = () => ({ id: bob.id, username: bob.username, displayName: bob.displayName, avatar: null, createdAt: expect.stringMatching(ISO) });

  it('GET /users/:id answers the user, without any secret', async () => {
    const res = await env.api.get(`/api/v1/users/${bob.id}`, alice.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, data: bobAsUser() });
    expect(res.text).not.toMatch(/password|hash|scrypt/i);
  });

  it('GET /users/:username answers the same user, the username in any case', async () => {
    for (const key of [bob.username, bob.username.toUpperCase()]) {
      const res = await env.api.get(`/api/v1/users/${key}`, alice.token);
      expect(res.status, key).toBe(200);
      expect(res.body.data).toEqual(bobAsUser());
    }
  });

  it('GET /users/me answers the caller', async () => {
    const res = await env.api.get('/api/v1/users/me', bob.token);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(bobAsUser());
  });

  it('unknown id or username → 404; a key outside the username alphabet → 400; no token → 401', async () => {
    expectError(await env.api.get('/api/v1/users/999999999', alice.token), 404, 'NOT_FOUND');
    expectError(await env.api.get('/api/v1/users/no-such-user', alice.token), 404, 'NOT_FOUND');
    expectError(await env.api.get('/api/v1/users/a%20b', alice.token), 400, 'VALIDATION_ERROR');
    expectError(await env.api.get('/api/v1/users/a%00b', alice.token), 400, 'VALIDATION_ERROR');
    expectError(await env.api.get(`/api/v1/users/${bob.id}`), 401, 'UNAUTHORIZED');
  });

  it('PATCH /users/me changes displayName and avatar, returns the user, and me/lookup show it', async () => {
    const res = await env.api.patch('/api/v1/users/me', alice.token, { displayName: 'Alice Liddell', avatar: 'https://img.example/a.png' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data).toEqual({
      id: alice.id,
      username: alice.username,
      displayName: 'Alice Liddell',
      avatar: 'https://img.example/a.png',
      createdAt: expect.stringMatching(ISO),
    });
    expect((await env.api.get('/api/v1/auth/me', alice.token)).body.data).toEqual(res.body.data);
    expect((await env.api.get(`/api/v1/users/${alice.username}`, bob.token)).body.data).toEqual(res.body.data);

    // One field at a time leaves the other as it is; avatar null clears it.
    const onlyAvatar = await env.api.patch('/api/v1/users/me', alice.token, { avatar: null });
    expect(onlyAvatar.body.data).toMatchObject({ displayName: 'Alice Liddell', avatar: null });
    const padded = await env.api.patch('/api/v1/users/me', alice.token, { displayName: '  Alice L.  ' });
    expect(padded.body.data.displayName).toBe('Alice L.'); // trimmed, like titles and messages
    const onlyName = await env.api.patch('/api/v1/users/me', alice.token, { displayName: 'Alice' });
    expect(onlyName.body.data).toMatchObject({ displayName: 'Alice', avatar: null });
  });

  it.each([
    ['an empty patch', {}],
    ['an unknown field', { displayName: 'X', username: 'hijack' }],
    ['an empty displayName', { displayName: '' }],
    ['a blank displayName', { displayName: '  ' }],
    ['a displayName of 65 characters', { displayName: 'x'.repeat(65) }],
    ['a displayName that is not a string', { displayName: 42 }],
    ['a displayName with U+0000', { displayName: 'a\u0000' }],
    ['an empty avatar', { avatar: '' }],
    ['an avatar of 2049 characters', { avatar: 'a'.repeat(2049) }],
  ])('PATCH /users/me rejects %s with 400 and changes nothing', async (_label, body) => {
    const before = (await env.api.get('/api/v1/auth/me', bob.token)).body.data;
    expectError(await env.api.patch('/api/v1/users/me', bob.token, body), 400, 'VALIDATION_ERROR');
    expect((await env.api.get('/api/v1/auth/me', bob.token)).body.data).toEqual(before);
    expect(before.displayName).toBe(bob.displayName);
  });

  it('PATCH /users/me rejects malformed JSON with 400, and needs a token', async () => {
    expectError(await env.api.request('PATCH', '/api/v1/users/me', { token: bob.token, rawBody: '{displayName: "x"}' }), 400, 'VALIDATION_ERROR');
    expectError(await env.api.patch('/api/v1/users/me', undefined, { displayName: 'x' }), 401, 'UNAUTHORIZED');
    expect((await env.api.get('/api/v1/auth/me', bob.token)).body.data.displayName).toBe(bob.displayName);
  });
});
