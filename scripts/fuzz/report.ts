import type { FuzzReport } from './result.js';

function table(title: string, counts: Record<string, number>, limit = 40): string {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = rows.slice(0, limit).map(([k, n]) => `  ${String(n).padStart(7)}  ${k}`);
  if (rows.length > limit) shown.push(`  … ${rows.length - limit} more`);
  return `${title}\n${shown.join('\n')}`;
}

/** The report as text: counts by status, category and route, then the findings with a replayable example. */
export function formatReport(r: FuzzReport): string {
  const out: string[] = [];
  out.push(`chatgate fuzz: seed ${r.seed}, ${r.sent} requests sent (${r.requested} generated + ${r.twins} differential twins + checks) in ${(r.durationMs / 1000).toFixed(1)} s`);
  out.push(`routes fuzzed (${r.routes.length}): ${r.routes.join(', ')}`);
  out.push(table('by status:', r.byStatus));
  out.push(table('by category:', r.byCategory, 30));
  const perRoute: Record<string, number> = {};
  for (const [route, statuses] of Object.entries(r.byRoute)) {
    perRoute[`${route}  (${Object.entries(statuses).sort().map(([s, n]) => `${s}:${n}`).join(' ')})`] = Object.values(statuses).reduce((a, b) => a + b, 0);
  }
  out.push(table('by route:', perRoute, 60));
  if (Object.keys(r.noAnswer).length) out.push(table('no answer (connection closed or refused by the client):', r.noAnswer));
  out.push(`database snapshots in the hostile phase: ${r.dbBatches.verified} batches verified unchanged, ${r.dbBatches.skipped} skipped`);
  out.push(`timings (ms): ${Object.entries(r.timings).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(table('mean answer time by route (ms), slowest first:', r.meanMsByRoute, 12));
  out.push(`slowest: ${r.slowest.map((s) => `${s.ms} ms ${s.request}`).join('\n         ')}`);
  if (r.findings.length === 0) {
    out.push('findings: none');
  } else {
    out.push(`FINDINGS (${r.findings.length} kinds, ${r.findings.reduce((a, f) => a + f.count, 0)} occurrences):`);
    for (const f of r.findings) {
      out.push(`- [${f.kind}] ${f.route}${f.status ? ` → ${f.status}` : ''} ×${f.count}\n    ${f.message}\n    e.g. ${f.example}`);
      for (const l of f.log ?? []) out.push(`    log: ${l}`);
    }
    out.push(`replay: npm run fuzz -- --seed ${r.seed} --requests ${r.requested}`);
  }
  return out.join('\n');
}

