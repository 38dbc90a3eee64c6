import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The repository's lint rules: redocly's recommended set, and each exception with its reason. */
export const REDOCLY_CONFIG = join(ROOT, 'redocly.yaml');

export interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer?: string }>;
}

export interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: LintProblem[];
}

/**
 * Lints an OpenAPI document with Redocly CLI from node_modules (it has no programmatic API), under
 * the repository's redocly.yaml. Offline: telemetry is off there and in the environment, and the
 * recommended rules are built in.
 */
export async function lintOpenApi(document: Record<string, unknown>): Promise<LintReport> {
  const cli = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
  const dir = await mkdtemp(join(tmpdir(), 'chatgate-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    // Exit code 1 when there are errors: the report on stdout is what counts.
    const { stdout } = await run(process.execPath, [cli, 'lint', file, '--config', REDOCLY_CONFIG, '--format', 'json'], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      if (err.stdout?.trimStart().startsWith('{')) return { stdout: err.stdout };
      throw new Error(`redocly lint failed: ${err.stderr ?? String(err)}`);
    });
    return JSON.parse(stdout) as LintReport;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line per problem, for a report or a failing assertion. */
export function formatLintProblems(report: LintReport): string {
  return report.problems
    .map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer ?? '?').join(', ')}`)
    .join('\n');
}
