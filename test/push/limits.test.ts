import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { TEST_JWT_SECRET } from '../helpers/config.js';
import { createGroup, expectError, mapLimit, postMessage, registerUser, type TestUser } from '../helpers/fixtures.js';
import type { RunningGateway } from '../helpers/gateway.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';
import { STREAM_PATH, StreamClient, type StreamAuth } from '../helpers/stream-client.js';

/**
 * What a client may do to the stream, and what the stream does to a client that misbehaves: every
 * bad input ends in its documented close code (src/push/protocol.ts), a plain GET is a 400, and
 * limits hold (connections per user, outbound buffer, heartbeats). Times are bounded generously: the
 * machine is shared.
 */

const PING_MS = 300;
const AUTH_TIMEOUT_MS = 400;
const MAX_PER_USER = 2;
const MAX_BUFFERED = 1024;

describe('the stream’s limits and bad input', () => {
  let cluster: Cluster;
  let gw: RunningGateway;
  /**
   * An instance that closes a client as soon as its outbound buffer passes 1 KiB (and pings rarely:
   * a client that stops reading stops answering pings too, and would be dropped for that first).
   */
  let tight: RunningGateway;
  let alice: TestUser;
  let bob: TestUser;
  let group: any;

  beforeAll(async () => {
    cluster = await startCluster(1, SHARED_REDIS_URL, {
      STREAM_PING_MS: String(PING_MS),
      STREAM_AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS),
      STREAM_MAX_CONNECTIONS_PER_USER: String(MAX_PER_USER),
    });
    gw = cluster.instances[0]!;
    tight = await cluster.addInstance({}, { STREAM_MAX_BUFFERED_BYTES: String(MAX_BUFFERED), STREAM_PING_MS: '60000' });
    alice = await registerUser(gw.api, 'Alice');
    bob = await registerUser(gw.api, 'Bob');
    group = await createGroup(gw.api, alice, [bob], 'Limits');
  });
  afterAll(async () => cluster.teardown());

  /** Opens with `auth`, sends `frames`, and returns the close code (failing if it stays open 10 s). */
  async function closeCodeOf(auth: StreamAuth, ...frames: Array<string | Buffer>): Promise<number> {
    const c = await StreamClient.open(gw.url, auth);
    for (const f of frames) c.send(f, Buffer.isBuffer(f));
    return (await c.waitClosed()).code;
  }

  /** A token as the gateway signs them, with the claims given (`exp` included: no default expiry). */
  const sign = (claims: Record<string, unknown>, key = TEST_JWT_SECRET) => createSigner({ key, algorithm: 'HS256' })(claims);

  it('authenticates from the header, the query parameter or a first frame', async () => {
    for (const auth of [{ header: bob.token }, { query: bob.token }, { frame: bob.token }]) {
      const c = await StreamClient.open(gw.url, auth);
      const ready = await c.waitFor((f) => f.type === 'ready');
      expect(ready).toEqual({ type: 'ready', position: expect.any(String) });
      const posted = await postMessage(gw.api, alice, group.id, `hello ${JSON.stringify(auth).slice(2, 7)}`);
      await c.waitFor((f) => f.type === 'message' && f.messageId === posted.id);
      await c.close();
    }
  });

  it('no token and no auth frame: 4408 once the auth timeout has passed', async () => {
    const started = performance.now();
    const c = await StreamClient.open(gw.url, 'none');
    const closed = await c.waitClosed();
    expect(closed.code).toBe(4408);
    expect(performance.now() - started).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50);
    expect(c.frames).toEqual([]);
  });

  it('a bad token closes with 4401, from the header, the query parameter or the frame', async () => {
    const inAnHour = Math.floor(Date.now() / 1000) + 3600;
    const forged = sign({ sub: bob.id, username: bob.username, exp: inAnHour }, 'another-secret-another-secret-xx');
    const expired = sign({ sub: bob.id, username: bob.username, exp: Math.floor(Date.now() / 1000) - 10 });
    const noAlg = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: bob.id, username: bob.username })).toString('base64url')}.`;
    const noSubject = sign({ username: bob.username, exp: inAnHour });
    // Sanity: the same signing with the right claims is accepted.
    const good = await StreamClient.open(gw.url, { header: sign({ sub: bob.id, username: bob.username, exp: inAnHour }) });
    await good.waitFor((f) => f.type === 'ready');
    await good.close();
    for (const token of ['not-a-token', forged, expired, noAlg, noSubject, '']) {
      for (const auth of [{ header: token }, { query: token }, { frame: token }] as StreamAuth[]) {
        // An empty header or query value is no token at all: the client then owes an auth frame.
        if (token === '' && !('frame' in (auth as object))) continue;
        expect(await closeCodeOf(auth), `${JSON.stringify(auth).slice(0, 40)}`).toBe(4401);
      }
    }
  });

  it('a token that expires mid-connection closes the stream with 4401 at its expiry', async () => {
    const token = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 2000 })({ sub: bob.id, username: bob.username });
    const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp * 1000;
    const c = await StreamClient.open(gw.url, { header: token });
    await c.waitFor((f) => f.type === 'ready');
    // Working until then: a push reaches it.
    const posted = await postMessage(gw.api, alice, group.id, 'before expiry');
    await c.waitFor((f) => f.type === 'message' && f.messageId === posted.id);
    const closed = await c.waitClosed(10_000);
    expect(closed.code).toBe(4401);
    // exp has a one-second resolution: not closed before it.
    expect(Date.now()).toBeGreaterThanOrEqual(exp - 50);
  });

  it('a frame that is not JSON: 1007', async () => {
    expect(await closeCodeOf('none', 'not json')).toBe(1007);
    expect(await closeCodeOf('none', '{"type":"auth",')).toBe(1007);
  });

  it('a JSON frame that is not an auth frame: 1008', async () => {
    for (const f of ['{"type":"hello"}', '[]', '"auth"', 'null', '42', '{"type":"auth"}', `{"type":"auth","token":5}`, `{"token":"${bob.token}"}`]) {
      expect(await closeCodeOf('none', f), f).toBe(1008);
    }
  });

  it('any frame after authentication: 1008 (the header, the query, or an earlier auth frame)', async () => {
    const auth = JSON.stringify({ type: 'auth', token: bob.token });
    expect(await closeCodeOf({ header: bob.token }, auth)).toBe(1008);
    expect(await closeCodeOf({ query: bob.token }, '{}')).toBe(1008);
    const c = await StreamClient.open(gw.url, { frame: bob.token });
    await c.waitFor((f) => f.type === 'ready');
    c.send(auth);
    expect((await c.waitClosed()).code).toBe(1008);
  });

  it('a binary frame: 1008, even one that holds a valid auth frame', async () => {
    expect(await closeCodeOf('none', Buffer.from(JSON.stringify({ type: 'auth', token: bob.token })))).toBe(1008);
    expect(await closeCodeOf({ header: bob.token }, Buffer.from([1, 2, 3]))).toBe(1008);
  });

  it('a frame over 4 KiB: 1009', async () => {
    expect(await closeCodeOf('none', JSON.stringify({ type: 'auth', token: 'x'.repeat(5000) }))).toBe(1009);
    expect(await closeCodeOf({ header: bob.token }, 'y'.repeat(4097))).toBe(1009);
  });

  it('a plain GET without an upgrade: a 400 JSON error, with or without a token', async () => {
    expectError(await gw.api.get(STREAM_PATH), 400, 'VALIDATION_ERROR');
    expectError(await gw.api.get(STREAM_PATH, bob.token), 400, 'VALIDATION_ERROR');
    expectError(await gw.api.get(`${STREAM_PATH}?token=${bob.token}`), 400, 'VALIDATION_ERROR');
  });

  it('connections over the per-user cap close with 4429; the others keep working', async () => {
    const user = await registerUser(gw.api, 'Capped');
    const g = await createGroup(gw.api, alice, [user], 'Cap');
    const kept = [await StreamClient.connect(gw.url, user.token), await StreamClient.connect(gw.url, user.token)];
    const over = await StreamClient.open(gw.url, { query: user.token });
    expect((await over.waitClosed()).code).toBe(4429);
    expect(over.frames).toEqual([]);
    // Another user is not affected by this one's cap.
    const other = await StreamClient.connect(gw.url, bob.token);
    const posted = await postMessage(gw.api, alice, g.id, 'to both connections');
    for (const c of kept) await c.waitFor((f) => f.type === 'message' && f.messageId === posted.id);
    // A closed connection frees its place.
    await kept[0]!.close();
    const again = await StreamClient.connect(gw.url, user.token);
    await Promise.all([again.close(), kept[1]!.close(), other.close()]);
  });

  it('a client that stops reading is closed with 4413 once its buffer passes the cap, and its buffer stops growing', async () => {
    // Big items: five members with long avatars and a long last message. A profile update of the
    // writer then pushes every one of the reader's conversations again: ~0.5 MB a write.
    const [reader, writer, ...others] = await Promise.all(['Slow', 'Fast', 'F1', 'F2', 'F3'].map((n) => registerUser(tight.api, n)));
    await Promise.all([reader!, writer!, ...others].map((u, i) => tight.api.patch('/api/v1/users/me', u.token, { avatar: `https://a.example/${i}/${'a'.repeat(2000)}` })));
    await mapLimit(Array.from({ length: 30 }, (_, i) => i), 4, async (i) => {
      const g = await createGroup(tight.api, writer!, [reader!, ...others], `Flood ${i}`);
      await postMessage(tight.api, writer!, g.id, randomBytes(3000).toString('base64').slice(0, 3990));
    });
    // The server's end of the connection, as the HTTP server hands it to the WebSocket layer.
    const upgraded = new Promise<net.Socket>((resolve) => tight.gw.app.server.once('upgrade', (_req, socket: net.Socket) => resolve(socket)));
    const slow = await StreamClient.connect(tight.url, reader!.token);
    const server = await upgraded;
    const clientSocket = (slow.ws as unknown as { _socket: net.Socket })._socket;
    clientSocket.pause();
    let updates = 0;
    const update = async () => {
      const res = await tight.api.patch('/api/v1/users/me', writer!.token, { displayName: `Fast ${++updates}` });
      expect(res.status, res.text).toBe(200);
    };
    // The kernel's buffers take the first megabytes; then bytes queue in the process.
    while (server.writableLength === 0 && !server.destroyed && updates < 100) await update();
    expect(server.writableLength, `nothing queued after ${updates} updates`).toBeGreaterThan(0);
    // Without the cap, these would queue ~2.5 MB more.
    for (let i = 0; i < 5; i++) await update();
    expect(server.writableLength).toBeLessThan(MAX_BUFFERED + 64 * 1024);
    clientSocket.resume();
    const closed = await slow.waitClosed(15_000);
    expect(closed.code).toBe(4413);
    // It got frames up to the cap, then the close: not the last updates.
    const names = slow.frames.filter((f) => f.type === 'conversation').map((f) => f.item.members.find((m: any) => m.userId === writer!.id).user.displayName);
    expect(names.length).toBeGreaterThan(0);
    expect(names).not.toContain(`Fast ${updates}`);
  });

  it('heartbeat: a peer that does not answer pings is dropped within about two intervals; one that does stays', async () => {
    const user = await registerUser(gw.api, 'Beating');
    const healthy = await StreamClient.connect(gw.url, user.token);
    let pings = 0;
    healthy.ws.on('ping', () => pings++);
    const started = performance.now();
    const silent = await StreamClient.open(gw.url, { header: user.token }, { autoPong: false });
    await silent.waitFor((f) => f.type === 'ready');
    await silent.waitClosed(2 * PING_MS + 3000);
    const droppedAfter = performance.now() - started;
    expect(droppedAfter).toBeGreaterThanOrEqual(PING_MS - 50);
    // The answering client saw the same rounds and is still there.
    expect(pings).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 3 * PING_MS));
    expect(healthy.closedWith).toBeUndefined();
    expect(pings).toBeGreaterThanOrEqual(3);
    await healthy.close();
  });

  it('heartbeat: a raw TCP peer that completed the upgrade and then went silent is dropped', async () => {
    const { port } = new URL(gw.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    const ended = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
    socket.on('error', () => undefined);
    let head = '';
    const upgraded = new Promise<void>((resolve) => {
      socket.on('data', (d) => {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) resolve();
      });
    });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `GET ${STREAM_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${bob.token}\r\n\r\n`,
    );
    await upgraded;
    const started = performance.now();
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    // Never reads a ping, never answers one.
    const closedAt = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 2 * PING_MS + 3000))]);
    expect(closedAt, 'the silent peer is still connected').toBeGreaterThan(0);
    expect(closedAt - started).toBeLessThan(2 * PING_MS + 3000);
    socket.destroy();
  });
});
