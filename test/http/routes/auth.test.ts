import { createHmac } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_JWT_SECRET } from '../../helpers/config.js';
import { expectError, SETUP_TIMEOUT_MS, registerUser, uniqueUsername, type TestUser } from '../../helpers/fixtures.js';
import { BACKENDS, setupEnv } from '../../helpers/gateway.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PASSWORD = 'password-123';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe.each(BACKENDS)('auth: register, login, me, token checks (%s)', (backend) => {
  let env: Awaited<ReturnType<typeof setupEnv>>;
  let alice: TestUser;
  beforeAll(async () => {
    env = await setupEnv(backend);
    alice = await registerUser(env.api, 'Alice A.');
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => env?.teardown());

  const register = (body: unknown) => env.api.post('/api/v1/auth/register', undefined, body);
  const me = (authorization?: string) =>
    env.api.request('GET', '/api/v1/auth/me', { headers: authorization === undefined ? {} : { authorization } });

  it('registers: 201 with the user (username stored lower-case, displayName defaulting to it) and a working token', async () => {
    const name = uniqueUsername('MiX');
    const res = await register({ username: name, password: PASSWORD });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({
      success: true,
      data: {
        user: { id: expect.stringMatching(/^[1-9][0-9]*$/), username: name.toLowerCase(), displayName: name.toLowerCase(), avatar: null, createdAt: expect.stringMatching(ISO) },
        token: expect.any(String),
      },
    });
    const who = await me(`Bearer ${res.body.data.token}`);
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ success: true, data: res.body.data.user });
  });

  it('accepts the boundaries: 3- and 32-character usernames of a-z 0-9 _ . -, an 8-character password, a 64-character displayName', async () => {
    const short = await register({ username: 'a.b', password: '12345678' });
    expect(short.status, short.text).toBe(201);
    const long = uniqueUsername('x_-.').padEnd(32, '9');
    const res = await register({ username: long, password: 'p'.repeat(128), displayName: 'D'.repeat(64) });
    expect(res.status, res.text).toBe(201);
    expect(res.body.data.user).toMatchObject({ username: long, displayName: 'D'.repeat(64) });
  });

  it('taken username → 409, whatever its case', async () => {
    expectError(await register({ username: alice.username, password: PASSWORD }), 409, 'CONFLICT');
    expectError(await register({ username: alice.username.toUpperCase(), password: PASSWORD }), 409, 'CONFLICT');
    // The first account is untouched: its password still logs in to it.
    const login = await env.api.post('/api/v1/auth/login', undefined, { username: alice.username, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(login.body.data.user.id).toBe(alice.id);
  });

  it('two registrations of one username at the same time: one 201, one 409', async () => {
    const name = uniqueUsername('race');
    const res = await Promise.all([register({ username: name, password: PASSWORD }), register({ username: name.toUpperCase(), password: PASSWORD })]);
    expect(res.map((r) => r.status).sort(), res.map((r) => r.text).join(' ')).toEqual([201, 409]);
  });

  it.each([
    ['username too short', { username: 'ab', password: PASSWORD }],
    ['username too long (33)', { username: 'a'.repeat(33), password: PASSWORD }],
    ['username with a space', { username: 'al ice', password: PASSWORD }],
    ['username with a symbol', { username: 'al!ce', password: PASSWORD }],
    ['username not a string', { username: 12345, password: PASSWORD }],
    ['password too short (7)', { username: 'validname1', password: '1234567' }],
    ['password too long (129)', { username: 'validname1', password: 'p'.repeat(129) }],
    ['missing password', { username: 'validname1' }],
    ['empty displayName', { username: 'validname1', password: PASSWORD, displayName: '' }],
    ['blank displayName', { username: 'validname1', password: PASSWORD, displayName: '   ' }],
    ['displayName too long (65)', { username: 'validname1', password: PASSWORD, displayName: 'D'.repeat(65) }],
    ['displayName with U+0000', { username: 'validname1', password: PASSWORD, displayName: 'Bad\u0000Name' }],
    ['unknown field', { username: 'validname1', password: PASSWORD, role: 'admin' }],
    ['an array body', [{ username: 'validname1', password: PASSWORD }]],
  ])('register rejects %s with 400 and creates nothing', async (_label, body) => {
    expectError(await register(body), 400, 'VALIDATION_ERROR');
  });

  it('register rejects malformed JSON with 400; the rejected username stays free', async () => {
    const res = await env.api.request('POST', '/api/v1/auth/register', { rawBody: '{"username":"validname1","password":' });
    expectError(res, 400, 'VALIDATION_ERROR');
    // None of the rejected registrations above created "validname1".
    const ok = await register({ username: 'validname1', password: PASSWORD });
    expect(ok.status, ok.text).toBe(201);
  });

  it('login: 200 with the user and a token, the username in any case', async () => {
    const res = await env.api.post('/api/v1/auth/login', undefined, { username: alice.username.toUpperCase(), password: PASSWORD });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.user).toEqual({ id: alice.id, username: alice.username, displayName: 'Alice A.', avatar: null, createdAt: expect.stringMatching(ISO) });
    const who = await me(`Bearer ${res.body.data.token}`);
    expect(who.body.data.id).toBe(alice.id);
  });

  it('login: wrong password or unknown user → 401 with the same message; bad body → 400', async () => {
    const wrong = await env.api.post('/api/v1/auth/login', undefined, { username: alice.username, password: 'password-124' });
    expectError(wrong, 401, 'UNAUTHORIZED');
    const unknown = await env.api.post('/api/v1/auth/login', undefined, { username: 'nobody-here', password: PASSWORD });
    expectError(unknown, 401, 'UNAUTHORIZED');
    expect(unknown.body.error.message).toBe(wrong.body.error.message);
    expectError(await env.api.post('/api/v1/auth/login', undefined, { username: alice.username }), 400, 'VALIDATION_ERROR');
    expectError(await env.api.post('/api/v1/auth/login', undefined, { username: alice.username, password: 123 }), 400, 'VALIDATION_ERROR');
  });

  it('GET /auth/me answers the caller', async () => {
    const res = await env.api.get('/api/v1/auth/me', alice.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: { id: alice.id, username: alice.username, displayName: 'Alice A.', avatar: null, createdAt: expect.stringMatching(ISO) },
    });
  });

  describe('401 for every kind of bad credentials', () => {
    const claims = () => ({ sub: alice.id, username: alice.username });

    it('control: a token signed here with the test secret and a future exp is accepted', async () => {
      const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000 })(claims());
      expect((await me(`Bearer ${token}`)).status).toBe(200);
    });

    it.each([
      ['no Authorization header', undefined],
      ['an empty header', ''],
      ['another scheme', 'Basic YWxpY2U6cGFzc3dvcmQ='],
      ['Bearer without a token', 'Bearer '],
      ['a token that is not a JWT', 'Bearer not-a-jwt'],
      ['a JWT with garbage segments', 'Bearer aaa.bbb.ccc'],
    ])('%s', async (_label, header) => {
      expectError(await me(header), 401, 'UNAUTHORIZED');
    });

    it('an expired token (right secret, exp in the past)', async () => {
      const past = nowSeconds() - 3600;
      const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256' })({ ...claims(), iat: past - 60, exp: past });
      expectError(await me(`Bearer ${token}`), 401, 'UNAUTHORIZED');
    });

    it('a forged signature (another secret)', async () => {
      const token = createSigner({ key: 'not-the-server-secret-not-the-server', algorithm: 'HS256', expiresIn: 60_000 })(claims());
      expectError(await me(`Bearer ${token}`), 401, 'UNAUTHORIZED');
    });

    it('a tampered payload (claims changed after signing)', async () => {
      const [h, , s] = alice.token.split('.');
      const payload = b64url({ sub: '1', username: 'someone-else', iat: nowSeconds(), exp: nowSeconds() + 3600 });
      expectError(await me(`Bearer ${h}.${payload}.${s}`), 401, 'UNAUTHORIZED');
    });

    it('alg: none (unsigned), and an HS512 token signed with the right secret', async () => {
      const payload = b64url({ ...claims(), iat: nowSeconds(), exp: nowSeconds() + 3600 });
      expectError(await me(`Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`), 401, 'UNAUTHORIZED');
      const h512 = b64url({ alg: 'HS512', typ: 'JWT' });
      const sig = createHmac('sha512', TEST_JWT_SECRET).update(`${h512}.${payload}`).digest('base64url');
      expectError(await me(`Bearer ${h512}.${payload}.${sig}`), 401, 'UNAUTHORIZED');
    });

    it('authenticated routes all check it (list, conversation, messages, profile)', async () => {
      for (const [method, path] of [
        ['GET', '/api/v1/conversations'],
        ['POST', '/api/v1/conversations'],
        ['GET', '/api/v1/conversations/1'],
        ['GET', '/api/v1/conversations/1/messages'],
        ['PATCH', '/api/v1/users/me'],
        ['GET', `/api/v1/users/${alice.id}`],
      ] as const) {
        expectError(await env.api.request(method, path, { headers: { authorization: 'Bearer x.y.z' } }), 401, 'UNAUTHORIZED');
      }
    });
  });
});
