import pg from 'pg';

/** A database of the fuzzer's own on the given server, created fresh and dropped at the end. */
export interface FuzzDatabase {
  name: string;
  url: string;
  /** Row counts and a checksum of every row, per table (see `snapshot`). */
  snapshot(): Promise<Snapshot>;
  drop(): Promise<void>;
}

export type Snapshot = Record<string, { rows: number; md5: string }>;

/**
 * Tables left out of the snapshot. `cache_invalidations` is the cache's outbox: a queue whose rows are
 * written in the same transaction as a change to another table (so any write that reaches it changes a
 * checked table too) and deleted in the background a second later, whatever the requests do.
 */
const NOT_DATA = new Set(['cache_invalidations']);

function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const u = new URL(serverUrl);
  // Connect to the URL's own database, or `postgres` when it names none.
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`the fuzzer needs a PostgreSQL server and none answered at ${u.host}: ${String(err)}`);
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createFuzzDatabase(serverUrl: string): Promise<FuzzDatabase> {
  const name = `chatgate_fuzz_${process.pid}_${Date.now().toString(36)}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"`);
  const url = withDatabase(serverUrl, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // A snapshot must not fail because of a stray error on this connection (the server going away is
  // reported by the query that needed it).
  client.on('error', () => undefined);
  let dropped = false;
  return {
    name,
    url,
    async snapshot() {
      const { rows: tables } = await client.query<{ t: string }>(
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
      const { rows } = await client.query<{ t: string; n: number; h: string }>(parts.join(' UNION ALL '));
      for (const r of rows) snap[r.t] = { rows: r.n, md5: r.h };
      return snap;
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await client.end().catch(() => undefined);
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
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
