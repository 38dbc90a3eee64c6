import { describe, expect, it } from 'vitest';
import { RedisL2 } from '../../../src/cache/engine/remote/l2.js';
import { TcpProxy } from '../../helpers/net.js';
import { silent, sleep, uniqueNamespace, useOwnRedis, waitFor } from './helpers.js';

const TIMEOUT = 50;
const WRITE_TIMEOUT = 1250;
/** A silence is seen after a timeout and its grace for late replies (LATE_REPLY_TIMEOUTS in l2.ts). */
const SEEN_AFTER = TIMEOUT * 5;

const own = useOwnRedis();

async function l2BehindProxy(): Promise<{ l2: RedisL2; proxy: TcpProxy }> {
  const { redis } = await own.start();
  const proxy = await TcpProxy.start(redis.port);
  own.cleanup(() => proxy.close());
  const l2 = new RedisL2({
    target: { url: proxy.redisUrl },
    namespace: uniqueNamespace(),
    timeoutMs: TIMEOUT,
    writeTimeoutMs: WRITE_TIMEOUT,
    connectionName: 'l2-unreachable-test',
    breakerThreshold: 100,
    breakerCooldownMs: 1000,
    log: silent,
    onState: () => undefined,
    onDisconnect: () => undefined,
    onBreakerOpen: () => undefined,
  });
  own.cleanup(() => l2.close());
  await waitFor(() => l2.isConnected, 5000, 'connected');
  return { l2, proxy };
}

/**
 * When Redis stopped answering is what the writers' outage window counts from (coherence/publisher.ts):
 * counted from an unanswered call's send time, a call that waited in our own client (behind a slow
 * pipeline, a saturated event loop) while Redis still ran other instances' renewals would date the
 * outage too early, and a writer would stop waiting before their leases end.
 */
describe('Redis L2: since when Redis is unreachable', () => {
  it('is the moment the silence is seen, not the moment the unanswered call was sent', async () => {
    const { l2, proxy } = await l2BehindProxy();
    expect(await l2.readMany([l2.pieceKey('note', 'x')])).toEqual([null]);
    expect(l2.unreachableSince).toBeUndefined();

    proxy.pause();
    const sentAt = performance.now();
    await expect(l2.readMany([l2.pieceKey('note', 'x')])).rejects.toThrow(/timed out/);
    await waitFor(() => l2.unreachableSince !== undefined, 2000, 'the silence seen');
    expect(l2.unreachableSince!).toBeGreaterThanOrEqual(sentAt + SEEN_AFTER - 1);
    expect(l2.coordinationUnreachableSince).toBe(l2.unreachableSince); // one server: one record

    proxy.resume();
    expect(await l2.readMany([l2.pieceKey('note', 'x')])).toEqual([null]);
    expect(l2.unreachableSince).toBeUndefined();
  });

  it('a write call, which waits a whole lease for its reply, shows the silence as early as a read would, and still completes with its late reply', async () => {
    const { l2, proxy } = await l2BehindProxy();
    proxy.pause();
    const sentAt = performance.now();
    const install = l2.install(l2.pieceKey('note', 'w'), 1, undefined, 60_000, Buffer.from('x'), 'write');
    await sleep(SEEN_AFTER + 150);
    const seenAt = l2.unreachableSince;
    expect(seenAt, 'seen while the write still waits').toBeDefined();
    expect(seenAt!).toBeGreaterThanOrEqual(sentAt + SEEN_AFTER - 1);
    expect(seenAt!).toBeLessThan(sentAt + WRITE_TIMEOUT);

    proxy.resume();
    expect(await install).toBe(true); // the late reply completes it
    expect(l2.unreachableSince).toBeUndefined();
  });
});
