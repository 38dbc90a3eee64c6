/** A write's answer time, as the load generator saw it (performance.now() of this process). */
export interface WriteTiming {
  sentAt: number;
  ms: number;
}

/** Write latency of one phase of a run (ms; NaN when no write fell in it). */
export interface PhaseLatency {
  phase: string;
  n: number;
  p50: number;
  p99: number;
}

/** Interpolated between the closest ranks (numpy's default), of ascending `sorted`. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** p50/p99 of the writes each phase takes in. */
export function latencyByPhase(timings: readonly WriteTiming[], phases: ReadonlyArray<{ phase: string; includes: (t: WriteTiming) => boolean }>): PhaseLatency[] {
  return phases.map(({ phase, includes }) => {
    const ms = timings.filter(includes).map((t) => t.ms).sort((a, b) => a - b);
    return { phase, n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99) };
  });
}
