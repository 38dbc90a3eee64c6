import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import type { ApiClient } from '../helpers/client.js';
import { createGroup, postMessage, registerUsers } from '../helpers/fixtures.js';
import { SHARED_REDIS_URL } from '../helpers/redis.js';

const LIST = '/api/v1/conversations';

/** Reads until the page is served from memory (a second read, unless the lease lapsed on a loaded machine). */
async function servedFromMemory(api: ApiClient, path: string, token: string): Promise<boolean> {
  const deadline = Date.now() + 5000;
  do {
    if ((await api.get(path, token)).headers.get('x-cache') === 'HIT-L1') return true;
    await new Promise((r) => setTimeout(r, 20));
  } while (Date.now() < deadline);
  return false;
}

/**
 * A composed page must stay tied to the pieces it was composed from when storing it pushes the same
 * user's only other page out of the page budget. Found by compose-property.test.ts with
 * PROPERTY_SECOND_L1_BYTES=4096 (a list from before a message, served as HIT-L1 after it).
 *
 * Half of CACHE_L1_MAX_BYTES=4096 is for composed pages: one page of this test's list fits, two do not.
 *
 * What went wrong before src/cache/engine/local/derived.ts recorded the variant before storing it: the
 * LRU evicted the owner's other (last) value synchronously inside the store, its dispose saw an owner
 * with no values left and forgot it (and its piece dependencies); the new value was then kept with no
 * owner that any piece change reaches.
 */
describe('composed pages under a full page budget', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, SHARED_REDIS_URL, { CACHE_L1_MAX_BYTES: '4096' });
    await cluster.addInstance({}, { CACHE_ENABLED: 'false' });
  });
  afterAll(async () => cluster.teardown());

  it('a page whose storing evicted the user’s other page is still dropped by the next write', async () => {
    const [cachedInstance, oracle] = cluster.instances;
    const api = cachedInstance!.api;
    const [alice, bob] = await registerUsers(api, 2);
    const group = await createGroup(api, alice!, [bob!]);
    await postMessage(api, bob!, group.id, 'first');

    // Alice's default page is kept; then her limit=1 page is composed, and storing it pushes the default
    // page out.
    expect(await servedFromMemory(api, LIST, alice!.token)).toBe(true);
    expect(await servedFromMemory(api, `${LIST}?limit=1`, alice!.token)).toBe(true);
    expect(cachedInstance!.gw.listCache!.stats().pages).toBe(1);

    await postMessage(api, bob!, group.id, 'second');

    const after = await api.get(`${LIST}?limit=1`, alice!.token);
    const truth = await oracle!.api.get(`${LIST}?limit=1`, alice!.token);
    expect(truth.body.data[0].lastMessage.content).toBe('second');
    // Before the fix: HIT-L1 with 'first', a list from before the acknowledged message.
    expect({ xCache: after.headers.get('x-cache'), lastMessage: after.body.data[0].lastMessage.content }).toEqual({
      xCache: expect.any(String),
      lastMessage: 'second',
    });
    expect(after.text).toBe(truth.text);
  });
});
