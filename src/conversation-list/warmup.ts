import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import { recentlyActiveUserIds } from '../store/users.js';
import { LIMITS } from '../model/limits.js';
import type { ConversationListSource } from './source.js';

/**
 * The seed's phase 2: preload the default list page of the most recently active users, in the
 * background. Loads go through the cache like any request, so the engine's fill rules apply: a
 * load that an invalidation overtakes is not stored (warm-up can never plant a stale list).
 */
export async function warmUp(
  db: Db,
  cache: ConversationListSource,
  logger: Logger,
  opts: { users: number; concurrency?: number; deadlineMs?: number; stopped?: () => boolean },
): Promise<{ users: number; ms: number }> {
  const started = performance.now();
  if (opts.users <= 0) return { users: 0, ms: 0 };
  const rows = (await recentlyActiveUserIds(db, opts.users)).map((id) => ({ id }));
  const query = { limit: LIMITS.listLimitDefault, offset: 0 };
  const deadline = started + (opts.deadlineMs ?? 60_000);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < rows.length && performance.now() < deadline && !opts.stopped?.()) {
      const id = rows[next++]!.id;
      await cache.page(id, query).then(
        () => done++,
        (err) => logger.debug({ err: String(err), userId: id }, '[CACHE-WARMUP] load failed'),
      );
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  const ms = Math.round(performance.now() - started);
  logger.info({ users: done, ms }, '[CACHE-WARMUP] preloaded recently active users');
  return { users: done, ms };
}
