import type { GatewayProcess } from '../support/gateway-process.js';
import { RedisServer } from '../support/redis.js';
import { round, summarize } from './lib/stats.js';

export interface OutageEnv {
  base: Record<string, string>;
  start(env: Record<string, string>): Promise<GatewayProcess>;
  token(u: { id: string; username: string }): string;
  writer: { id: string; username: string };
  reader: { id: string; username: string };
  progress(label: string, done: number, total?: number): void;
}

const LIST = '/api/v1/conversations';

/**
 * Writes through a Redis outage (issue: "every write waits ~2 s for as long as Redis is unreachable").
 * Two instances on a Redis of their own; one user posts sequentially while Redis is healthy, then for
 * `seconds` while it is paused (SIGSTOP: connections stay up, nothing answers) and, after it is back,
 * for `seconds` while it is killed (connections refused). Latencies by phase: healthy; the first lease
 * window of the outage (a write must wait there: another instance may still trust its memory); the
 * rest of the outage (nobody can, so nobody is waited for). The other instance reads the list after
 * every write: it must be fresh (counted).
 */
export async function outage(env: OutageEnv, seconds: number): Promise<{ md: string[]; result: Record<string, unknown> }> {
  const redis = await RedisServer.start();
  const leaseMs = 2000;
  const e = { ...env.base, REDIS_URL: redis.url, CACHE_NAMESPACE: 'outage', CACHE_LEASE_MS: String(leaseMs) };
  const a = await env.start(e);
  const b = await env.start(e);
  const writerToken = env.token(env.writer);
  const readerToken = env.token(env.reader);
  try {
    const direct = await a.api.post(LIST, writerToken, { type: 'direct', memberIds: [env.reader.id] });
    const conv = direct.body.data.id as string;
    let n = 0;
    let stale = 0;
    let failed = 0;
    const post = async (): Promise<number> => {
      const content = `outage ${++n}`;
      const t0 = performance.now();
      const r = await a.api.post(`${LIST}/${conv}/messages`, writerToken, { content });
      const ms = performance.now() - t0;
      if (r.status !== 201) failed++;
      const list = await b.api.get(LIST, readerToken);
      if (list.body?.data?.[0]?.lastMessage?.content !== content) stale++;
      return ms;
    };
    const during = async (label: string, ms: number): Promise<Array<{ at: number; ms: number }>> => {
      const out: Array<{ at: number; ms: number }> = [];
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        out.push({ at: performance.now() - t0, ms: await post() });
        env.progress(`outage: ${label}`, Math.round(performance.now() - t0), ms);
      }
      return out;
    };
    const phases = (xs: Array<{ at: number; ms: number }>, startedAt: number) => ({
      firstLease: summarize(xs.filter((x) => x.at + startedAt < leaseMs + 500).map((x) => x.ms)),
      after: summarize(xs.filter((x) => x.at + startedAt >= leaseMs + 500).map((x) => x.ms)),
    });
    const healthy = summarize((await during('healthy', 5000)).map((x) => x.ms));
    redis.pause();
    const paused = phases(await during('paused', seconds * 1000), 0);
    redis.resume();
    await during('recovered', 5000);
    await redis.kill();
    const killed = phases(await during('killed', seconds * 1000), 0);
    await redis.restart();
    await during('recovered', 5000);
    const result = { seconds, leaseMs, healthy, paused, killed, stale, failed, posts: n };
    const row = (label: string, s: ReturnType<typeof summarize>) =>
      `| ${label} | ${s.n} | ${round(s.p50)} | ${round(s.p99)} | ${round(s.p50 / healthy.p50)} |`;
    const md = [
      `### Writes through a Redis outage: ${seconds} s paused (SIGSTOP), then ${seconds} s killed; lease ${leaseMs} ms`,
      '| phase | posts | p50 (ms) | p99 (ms) | p50 ÷ healthy p50 |',
      '|---|---|---|---|---|',
      row('healthy', healthy),
      row('paused, first lease window (+0.5 s)', paused.firstLease),
      row('paused, after it', paused.after),
      row('killed, first lease window (+0.5 s)', killed.firstLease),
      row('killed, after it', killed.after),
      `Every post was followed by a read of the list on the other instance: ${stale} of ${n} not fresh, ${failed} posts not 201. Goal: after the first lease window, p50 within 1.2x of healthy.`,
      '',
    ];
    return { md, result };
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
  }
}
