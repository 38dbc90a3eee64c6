import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { registerUser } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const run = promisify(execFile);
const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/cache.ts', ...args], { env: { ...process.env } });

describe('npm run cache -- stats|clear', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, SHARED_REDIS_URL, { ADMIN_USERNAMES: 'cacheadmin' });
  });
  afterAll(async () => cluster.teardown());

  it('prints a live instance’s stats and clears the cache; refuses a non-admin', async () => {
    const { api, url } = cluster.instances[0]!;
    const reg = await api.post('/api/v1/auth/register', undefined, { username: 'cacheadmin', password: 'password-123' });
    const token = reg.body.data.token as string;
    const user = await registerUser(api);
    await api.get('/api/v1/conversations', user.token); // in memory: the user's member state and the composed page

    const stats = JSON.parse((await cli(['stats', '--url', url, '--token', token])).stdout);
    expect(stats.data).toMatchObject({ name: 'conversations-list', memorySize: 2, pieces: 1, pages: 1, redis: 'up' });

    const cleared = JSON.parse((await cli(['clear', '--url', url, '--username', 'cacheadmin', '--password', 'password-123'])).stdout);
    expect(cleared).toEqual({ success: true, data: { cleared: true } });
    expect(cluster.instances[0]!.gw.engine!.stats().entries).toBe(0);
    expect(cluster.instances[0]!.gw.listCache!.stats()).toMatchObject({ memorySize: 0, pages: 0 });

    await expect(cli(['clear', '--url', url, '--token', user.token])).rejects.toMatchObject({ code: 1 });
  });
});
