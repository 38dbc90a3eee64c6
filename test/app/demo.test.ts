import type { Browser, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../../support/browser.js';
import { DemoAppPage } from '../../support/demo-app-page.js';
import { ApiClient } from '../helpers/client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, SETUP_TIMEOUT_MS, type TestUser } from '../helpers/fixtures.js';
import { TcpProxy } from '../helpers/net.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const PASSWORD = 'password-123';
/** How long a pushed change may take to show: it bounds a failure (on a loaded machine), it measures nothing. */
const LIVE = { timeout: 10_000 };

/** Members who joined at the same moment are previewed in either order. */
const ADA_AND_BEN = expect.stringMatching(/^(Ada, Ben|Ben, Ada)$/);

const isChangesSince = (r: Response) => r.url().includes('/api/v1/conversations/changes?since=');

async function logIn(api: ApiClient, username: string): Promise<TestUser> {
  const res = await api.post('/api/v1/auth/login', undefined, { username, password: PASSWORD });
  expect(res.status, res.text).toBe(200);
  const { user, token } = res.body.data;
  return { id: user.id, username: user.username, displayName: user.displayName, token };
}

/**
 * The demo client (public/app/) end to end, in headless Chromium: Ada's browser talks to instance A,
 * Ben's to instance B (through a TCP proxy, so that the test can cut Ben's network path), one service
 * on real PostgreSQL and Redis. Each step is done in the page as a user would, and checked in the
 * other user's page without a reload, and where it matters on the server too.
 */
describe('the demo client in a browser: two users on two instances', { timeout: 60_000 }, () => {
  let cluster: Cluster | undefined;
  let browser: Browser | undefined;
  let proxy: TcpProxy;
  let api: ApiClient;
  let ada: DemoAppPage;
  let ben: DemoAppPage;
  let adaUser: TestUser;
  let benUser: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    // A fresh database per test file: fixed usernames are free.
    const [started, launched] = await Promise.allSettled([startCluster(2, SHARED_REDIS_URL, { ADMIN_USERNAMES: 'root' }), launchChromium()]);
    if (started.status === 'fulfilled') cluster = started.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (launched.status === 'rejected') throw launched.reason;
    if (started.status === 'rejected') throw started.reason;
    const [a, b] = cluster!.instances;
    api = a!.api;
    proxy = await TcpProxy.start(Number(new URL(b!.url).port));
    for (const [username, displayName] of [['ben', 'Ben'], ['root', 'Root']]) {
      const res = await api.post('/api/v1/auth/register', undefined, { username, password: PASSWORD, displayName });
      expect(res.status, res.text).toBe(201);
    }
    benUser = await logIn(api, 'ben');
    admin = await logIn(api, 'root');
    [ada, ben] = await Promise.all([DemoAppPage.open(browser!, a!.url), DemoAppPage.open(browser!, `http://127.0.0.1:${proxy.port}`)]);
  }, SETUP_TIMEOUT_MS);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      for (const [name, app] of [['Ada', ada], ['Ben', ben]] as const) console.error(`${name}'s page:\n  ${app?.journal.join('\n  ')}`);
    });
  });
  afterEach(() => {
    expect(ada.pageErrors).toEqual([]);
    expect(ben.pageErrors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await cluster?.teardown();
  });

  it('Ada registers, Ben logs in; Ada starts a direct conversation with Ben, and it shows in Ben’s list', async () => {
    await ada.register('ada', PASSWORD, 'Ada');
    await ben.logIn('ben', PASSWORD);
    adaUser = await logIn(api, 'ada');
    expect(await ben.titles()).toEqual([]);

    await ada.startDirect('ben', 'Ben');
    await expect.poll(() => ben.read('Ada'), LIVE).toEqual({ title: 'Ada', lastMessage: 'No messages yet', members: ADA_AND_BEN, unread: 0 });
  });

  it('Ada sends: Ben’s list shows the last message and one unread, without a reload', async () => {
    await ada.send('Hello Ben');
    await expect.poll(() => ben.read('Ada'), LIVE).toMatchObject({ lastMessage: 'Ada: Hello Ben', unread: 1 });
    expect(await ada.read('Ben')).toMatchObject({ lastMessage: 'Ada: Hello Ben', unread: 0 });
    expect(ben.navigations).toBe(1);
  });

  it('Ben opens it: the history shows and it is marked read; a message that comes while it is open is read at once', async () => {
    await ben.openConversation('Ada');
    expect(await ben.messages()).toEqual(['Ada: Hello Ben']);
    await expect.poll(() => ben.read('Ada'), LIVE).toMatchObject({ unread: 0 });
    const serverItem = async () => (await api.get('/api/v1/conversations', benUser.token)).body.data[0];
    expect(await serverItem()).toMatchObject({ title: 'Ada', unreadCount: 0 });

    await ada.send('Are you there?');
    await expect.poll(() => ben.messages(), LIVE).toEqual(['Ada: Hello Ben', 'Ada: Are you there?']);
    await expect.poll(async () => (await serverItem()).unreadCount, LIVE).toBe(0);
    await expect.poll(() => ben.read('Ada'), LIVE).toMatchObject({ lastMessage: 'Ada: Are you there?', unread: 0 });

    await ben.send('Yes!');
    await expect.poll(() => ada.messages(), LIVE).toEqual(['Ada: Hello Ben', 'Ada: Are you there?', 'Ben: Yes!']);
  });

  it('a group, its rename and Ben leaving it show live in both lists', async () => {
    const group = await createGroup(api, adaUser, [benUser], 'Plans');
    await expect.poll(() => ben.read('Plans'), LIVE).toEqual({ title: 'Plans', lastMessage: 'No messages yet', members: ADA_AND_BEN, unread: 0 });

    const renamed = await api.patch(`/api/v1/conversations/${group.id}`, adaUser.token, { title: 'Weekend plans' });
    expect(renamed.status, renamed.text).toBe(200);
    await expect.poll(() => ben.titles(), LIVE).toEqual(['Weekend plans', 'Ada']);
    await expect.poll(() => ada.titles(), LIVE).toEqual(['Weekend plans', 'Ben']);

    await ben.openConversation('Weekend plans');
    await ben.leave();
    await expect.poll(() => ben.titles(), LIVE).toEqual(['Ada']);
    await expect.poll(() => ada.read('Weekend plans'), LIVE).toMatchObject({ members: 'Ada' });
    const benList = (await api.get('/api/v1/conversations', benUser.token)).body.data;
    expect(benList.map((c: { title: string }) => c.title)).toEqual(['Ada']);
    expect(ben.navigations).toBe(1);
  });

  it('Ben’s connection drops: what happened meanwhile comes from /changes?since= once the client has reconnected', async () => {
    // Held, not refused: Ben's reconnect attempts hang until resume(), so the message is surely sent in the gap.
    proxy.pause();
    proxy.dropConnections();
    await ben.waitForStatus('Reconnecting…');
    await ada.send('While you were away');
    expect(await ben.read('Ada')).toMatchObject({ lastMessage: 'Ben: Yes!', unread: 0 });

    const changes = ben.page.waitForResponse(isChangesSince);
    proxy.resume();
    const answer = await changes;
    expect(answer.status()).toBe(200);
    const { data } = await answer.json();
    // The answer may repeat a change from just before the position too (see src/push/changes.ts).
    expect(data.changed.map((c: { title: string; lastMessage: { content: string } | null }) => [c.title, c.lastMessage?.content])).toContainEqual([
      'Ada',
      'While you were away',
    ]);
    await ben.waitForStatus('Live');
    await expect.poll(() => ben.read('Ada'), LIVE).toMatchObject({ lastMessage: 'Ada: While you were away', unread: 1 });
    expect(ben.navigations).toBe(1);
  });

  it('a position the server no longer knows (the cache was cleared meanwhile): 410, and the client reloads its list', async () => {
    proxy.pause();
    proxy.dropConnections();
    await ben.waitForStatus('Reconnecting…');
    const cleared = await api.delete('/api/v1/admin/cache', admin.token);
    expect(cleared.status, cleared.text).toBe(200);
    await ada.send('After the clear');

    const gone = ben.page.waitForResponse(isChangesSince);
    const reloaded = ben.page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/conversations' && r.request().method() === 'GET');
    proxy.resume();
    expect((await gone).status()).toBe(410);
    expect((await reloaded).status()).toBe(200);
    await expect.poll(() => ben.read('Ada'), LIVE).toMatchObject({ lastMessage: 'Ada: After the clear', unread: 2 });
    await ben.waitForStatus('Live');
    expect(await ben.error.textContent()).toBe('');
    expect(ben.navigations).toBe(1);
  });
});
