import { readFileSync } from 'node:fs';

/** Linux's USER_HZ (sysconf(_SC_CLK_TCK)): 100 on every mainstream kernel. */
const CLOCK_TICKS = 100;

/** Latency statistics for benchmarks. All values in the unit of the samples (milliseconds here). */

/**
 * The p-th percentile (0 ≤ p ≤ 100) of `sorted` (ascending), linearly interpolated between
 * the closest ranks (the same definition as numpy's default and PostgreSQL's percentile_cont).
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0]!;
  if (p >= 100) return sorted[sorted.length - 1]!;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((s, x) => s + x, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Rounds for display/JSON: 3 significant decimals below 10, 2 below 100, 1 above. */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const d = Math.abs(x) < 10 ? 3 : Math.abs(x) < 100 ? 2 : 1;
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** Times `fn` once, in milliseconds (high-resolution monotonic clock). */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Latency of `n` sequential calls of `fn`, in ms. */
export async function timeSequential(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const t = cpuTimesMs(`/proc/${pid}/stat`);
  return t === undefined ? undefined : t[0] + t[1];
}

/**
 * [user, system] CPU ms from a /proc stat file: a process's (`/proc/<pid>/stat`) or one of its
 * threads' (`/proc/<pid>/task/<tid>/stat`); undefined when it cannot be read (gone, not Linux).
 */
export function cpuTimesMs(statPath: string): [number, number] | undefined {
  try {
    const raw = readFileSync(statPath, 'utf8');
    // After the command name, which is in parentheses and may hold spaces.
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return [(Number(fields[11]) * 1000) / CLOCK_TICKS, (Number(fields[12]) * 1000) / CLOCK_TICKS];
  } catch {
    return undefined;
  }
}
