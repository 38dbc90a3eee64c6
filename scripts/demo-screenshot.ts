/**
 * docs/demo.png, the README's picture of the demo client: `npm run demo:screenshot [-- PATH]`.
 * A gateway as `npm start` runs it (embedded in-memory database, the demo data), Alice logged in in
 * headless Chromium (Debian's chromium, support/browser.ts), a message from Bob arriving live, Alice
 * answering in "Weekend trip".
 */
import { randomBytes } from 'node:crypto';
import { DEMO_PASSWORD, seedDemo } from '../src/demo-seed.js';
import { launchChromium } from '../support/browser.js';
import { DemoAppPage } from '../support/demo-app-page.js';
import { startGateway } from '../support/gateway.js';

const out = process.argv[2] ?? 'docs/demo.png';

const gateway = await startGateway({ DATA_DIR: 'memory://', JWT_SECRET: randomBytes(32).toString('base64url') });
const browser = await launchChromium().catch(async (err: unknown) => {
  await gateway.close();
  throw err;
});
try {
  await seedDemo(gateway.gw);
  const alice = await DemoAppPage.open(browser, gateway.url);
  await alice.logIn('alice', DEMO_PASSWORD);

  const bob = await gateway.api.post('/api/v1/auth/login', undefined, { username: 'bob', password: DEMO_PASSWORD });
  const direct = (await gateway.api.get('/api/v1/conversations?type=direct', bob.body.data.token)).body.data[0];
  await gateway.api.post(`/api/v1/conversations/${direct.id}/messages`, bob.body.data.token, { content: 'Or 13:00, if that suits you better.' });
  await alice.entry('Bob').getByText('Bob: Or 13:00, if that suits you better.').waitFor();

  await alice.openConversation('Weekend trip');
  await alice.send('Booked it for Saturday and Sunday!');
  await alice.page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await gateway.close();
}
