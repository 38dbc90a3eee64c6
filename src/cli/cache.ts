/**
 * `npm run cache -- stats|clear [--url URL] [--username NAME --password PASS | --token TOKEN]`
 *
 * The seed's getCacheStats() and clearAllConversationCache() from a shell, through a running
 * instance's admin routes: stats are that instance's, and a clear reaches every instance's L1 and L2.
 * Defaults: CHATGATE_URL (http://127.0.0.1:3000), CHATGATE_ADMIN_TOKEN, or CHATGATE_ADMIN_USERNAME/PASSWORD.
 */
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run cache -- stats|clear [--url URL] [--token TOKEN | --username NAME --password PASS]';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.CHATGATE_URL ?? 'http://127.0.0.1:3000' },
      token: { type: 'string', default: process.env.CHATGATE_ADMIN_TOKEN },
      username: { type: 'string', default: process.env.CHATGATE_ADMIN_USERNAME },
      password: { type: 'string', default: process.env.CHATGATE_ADMIN_PASSWORD },
    },
  });
  const command = positionals[0];
  if (command !== 'stats' && command !== 'clear') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const base = values.url!.replace(/\/$/, '');
  let token = values.token;
  if (!token) {
    if (!values.username || !values.password) {
      process.stderr.write(`an admin token or username and password is required\n${USAGE}\n`);
      return 2;
    }
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: values.username, password: values.password }),
    });
    const body = (await login.json()) as { data?: { token: string }; error?: { message: string } };
    if (!login.ok || !body.data) {
      process.stderr.write(`login failed: ${body.error?.message ?? login.status}\n`);
      return 1;
    }
    token = body.data.token;
  }
  const res = await fetch(`${base}/api/v1/admin/${command === 'stats' ? 'cache/stats' : 'cache'}`, {
    method: command === 'stats' ? 'GET' : 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  return res.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
