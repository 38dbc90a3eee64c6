import type { RunResult } from './result.js';

export function table(rows: RunResult[]): string {
  const head = ['scenario', 'ops', 'reads', 'reads checked', 'facts checked', 'violations', 'read 5xx', 'read 503 tol.', 'write 2xx/4xx/503/other', 'oracle (cmp/mismatch)', 'db checks/fail', 'uncaught', 'result'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.ops),
    String(r.reads),
    String(r.readsChecked),
    String(r.facts),
    String(r.violations),
    String(r.read5xx),
    String(r.read503Tolerated),
    `${r.writes2xx}/${r.writes4xxExpected}/${r.writes503}/${r.writesUnexpected}`,
    `${r.oracleCompared}/${r.oracleMismatches}`,
    `${r.dbChecked}/${r.dbFailures}`,
    String(r.uncaught),
    r.passed ? 'PASS' : 'FAIL',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function summary(r: RunResult): string {
  const lines = [
    `scenario ${r.scenario} (seed ${r.seed}, ${r.users} users, ${r.instances} instances, load ${(r.loadMs / 1000).toFixed(1)} s at event-loop utilization ${r.eventLoopUtilization.toFixed(2)}, total ${(r.totalMs / 1000).toFixed(1)} s): ${r.passed ? 'PASS' : 'FAIL'}`,
    `  operations (writes): ${r.ops}  — 2xx ${r.writes2xx}, expected 4xx ${r.writes4xxExpected}, 503 ${r.writes503}, refused by a stopping instance ${r.writesRefusedStopping}, other ${r.writesUnexpected}`,
    `  reads: ${r.reads} sent, ${r.readsChecked} checked, ${r.facts} facts checked, ${r.violations} violations; read 5xx ${r.read5xx}, tolerated 503 ${r.read503Tolerated}, refused by a stopping instance ${r.readsRefusedStopping}, other non-200 ${r.readOther}`,
    `  X-Cache: ${Object.entries(r.xcache).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  oracle: ${r.oracleCompared} lists compared, ${r.oracleMismatches} mismatches; database: ${r.dbChecked} checks, ${r.dbFailures} failures, outbox rows left ${r.outboxRows}`,
  ];
  lines.push(`  phases: ${r.phases.join(', ')}`);
  if (r.writeLatency) {
    const healthy = r.writeLatency[0]!.p50;
    const ms = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
    lines.push(
      `  write latency (2xx, ms) by phase: ${r.writeLatency.map((p) => `${p.phase} n=${p.n} p50 ${ms(p.p50)} p99 ${ms(p.p99)} (p50 ${ms(p.p50 / healthy, 2)}× healthy)`).join('; ')}`,
    );
  }
  if (r.faults.length) lines.push(`  faults: ${r.faults.join('; ')}`);
  if (r.routes.length) lines.push(`  writes by route: ${r.routes.join(', ')}`);
  if (r.gatewayLogs.length) lines.push(`  gateway warnings/errors: ${r.gatewayLogs.join('; ')}`);
  for (const f of r.failures.slice(0, 40)) lines.push(`  ✗ ${f}`);
  if (r.failures.length > 40) lines.push(`  … ${r.failures.length - 40} more`);
  return lines.join('\n');
}
