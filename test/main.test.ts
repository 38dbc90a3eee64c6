import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './helpers/client.js';
import { SETUP_TIMEOUT_MS } from './helpers/fixtures.js';

/**
 * `npm install && npm start` with no server: the built gateway (dist/, as `npm start` runs it) on an
 * embedded database under DATA_DIR, seeded with demo data on first start, persistent across restarts.
 */
interface Started {
  proc: ChildProcess;
  base: string;
  out: () => string;
}

function start(dataDir: string): Promise<Started> {
  // Only what `npm start` on a bare machine would have: no DATABASE_URL, no REDIS_URL.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
  const proc = spawn(process.execPath, ['dist/main.js'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, base: m[1]!, out: () => out });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    proc.on('exit', (code) => reject(new Error(`exited with ${code} before listening:\n${out}`)));
  });
}

function stop(s: Started): Promise<number | null> {
  return new Promise((resolve) => {
    s.proc.once('exit', (code) => resolve(code));
    s.proc.kill('SIGTERM');
  });
}

describe('npm start: the built gateway on the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatgate-start-'));
  let running: Started | undefined;

  beforeAll(() => {
    const build = spawnSync('npm', ['run', 'build'], { encoding: 'utf8' });
    expect(build.status, build.stdout + build.stderr).toBe(0);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    if (running && running.proc.exitCode === null) await stop(running);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('first start: migrates, seeds demo data, prints curl lines that work; SIGTERM exits 0', async () => {
    running = await start(dataDir);
    const api = new ApiClient(running.base);
    const login = await api.post('/api/v1/auth/login', undefined, { username: 'alice', password: 'chatgate-demo' });
    expect(login.status, login.text).toBe(200);
    const list = await api.get('/api/v1/conversations', login.body.data.token);
    expect(list.status).toBe(200);
    expect(list.body.data.length).toBeGreaterThan(0);
    // The demo data went through the domain's writes, which installed the list's state in memory:
    // the first read is composed from it, the second is the kept page.
    expect(list.headers.get('x-cache')).toBe('HIT-L1');
    expect((await api.get('/api/v1/conversations', login.body.data.token)).headers.get('x-cache')).toBe('HIT-L1');
    await new Promise((r) => setTimeout(r, 200)); // the demo lines follow the listening log line
    expect(running.out()).toContain('Demo data created');
    expect(running.out()).toContain(`curl -si ${running.base}/api/v1/conversations`);
    expect(await stop(running)).toBe(0);
  }, 90_000);

  it('second start on the same DATA_DIR: the data is still there, nothing is seeded again', async () => {
    running = await start(dataDir);
    const api = new ApiClient(running.base);
    const login = await api.post('/api/v1/auth/login', undefined, { username: 'alice', password: 'chatgate-demo' });
    expect(login.status, login.text).toBe(200);
    const token = login.body.data.token as string;
    const before = (await api.get('/api/v1/conversations', token)).body.pagination.total as number;
    expect(before).toBeGreaterThan(0);
    expect(running.out()).not.toContain('Demo data created');
    expect(await stop(running)).toBe(0);
  }, 90_000);
});
