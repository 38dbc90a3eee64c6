import pg from 'pg';
import type { Queryable } from '../../src/db/index.js';

/** Row counts and a checksum of every row, per table. */
export type Snapshot = Record<string, { rows: number; md5: string }>;

/**
 * Tables left out of the snapshot. `cache_invalidations` is the cache's outbox: a queue whose rows are
 * written in the same transaction as a change to another table (so any write that reaches it changes a
 * checked table too) and deleted in the background a second later, whatever the requests do.
 */
const NOT_DATA = new Set(['cache_invalidations']);

/** What every table of the database holds now (one statement). */
export async function snapshot(db: Queryable): Promise<Snapshot> {
  const { rows: tables } = await db.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const parts = tables
    .filter((r) => !NOT_DATA.has(r.t))
    .map(
      (r) =>
        `SELECT ${pg.escapeLiteral(r.t)} AS t, count(*)::int AS n,
           md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM ${pg.escapeIdentifier(r.t)} x`,
    );
  const snap: Snapshot = {};
  if (parts.length === 0) return snap;
  const { rows } = await db.query<{ t: string; n: number; h: string }>(parts.join(' UNION ALL '));
  for (const r of rows) snap[r.t] = { rows: r.n, md5: r.h };
  return snap;
}

/** Tables whose rows differ between two snapshots, described for a report. */
export function snapshotDiff(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const t of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[t];
    const b = after[t];
    if (!a || !b) out.push(`${t}: table ${a ? 'dropped' : 'created'}`);
    else if (a.rows !== b.rows) out.push(`${t}: ${a.rows} → ${b.rows} rows`);
    else if (a.md5 !== b.md5) out.push(`${t}: same ${a.rows} rows, contents changed`);
  }
  return out;
}
