import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createGroup, postMessage, readUntilHit, registerUsers } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

/** Value of one sample in Prometheus text (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('GET /metrics', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, SHARED_REDIS_URL);
  });
  afterAll(async () => cluster.teardown());

  it('moves as requests are served: a miss, a hit, an invalidation, request durations by route', async () => {
    const api = cluster.instances[0]!.api;
    const [a, b] = await registerUsers(api, 2);
    const g = await createGroup(api, a!, [b!]);
    // Cache bob's default page in L1 first (the precondition for the hit below).
    expect((await readUntilHit(api, '/api/v1/conversations', b!.token)).seen.at(-1)).toBe('HIT-L1');
    const before = (await api.get('/metrics')).text;

    const hit = await api.get('/api/v1/conversations', b!.token);
    expect(hit.headers.get('x-cache')).toBe('HIT-L1');
    await cluster.instances[0]!.gw.listCache!.clear(); // nothing cached: the next read loads from the database
    const afterClear = (await api.get('/metrics')).text;
    const miss = await api.get('/api/v1/conversations', b!.token);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    await postMessage(api, a!, g.id, 'hello'); // publishes the group's new state

    const res = await api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const after = res.text;
    expect(sample(after, 'cache_hits_total', '{level="l1"}')).toBe(sample(before, 'cache_hits_total', '{level="l1"}') + 1);
    expect(sample(after, 'cache_misses_total')).toBe(sample(before, 'cache_misses_total') + 1);
    expect(sample(after, 'cache_loads_total')).toBeGreaterThan(sample(afterClear, 'cache_loads_total'));
    // One piece per message: the conversation's state, whatever the member count.
    expect(sample(after, 'cache_pieces_published_total')).toBe(sample(before, 'cache_pieces_published_total') + 1);
    expect(sample(after, 'cache_publish_duration_seconds_count', '{degraded="false"}')).toBeGreaterThan(
      sample(before, 'cache_publish_duration_seconds_count', '{degraded="false"}'),
    );
    expect(sample(after, 'cache_l1_entries')).toBeGreaterThanOrEqual(0);
    expect(sample(after, 'cache_redis_up')).toBe(1);
    expect(after).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/conversations",status_code="200"\} [1-9]/);
    expect(after).toContain('process_cpu_user_seconds_total');
    // Bounded labels: no user id, no concrete conversation URL.
    expect(after).not.toContain(`/api/v1/conversations/${g.id}`);
  });
});
