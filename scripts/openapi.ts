/**
 * The served OpenAPI document as tools see it: `npm run gen:api` regenerates the committed TypeScript
 * types (src/http/generated/openapi.ts), `npm run lint:api` lints it with Redocly (redocly.yaml) and
 * exits 1 on any error or warning. Both start a gateway on an in-memory database: no server needed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { fetchServedDocument } from './openapi/document.js';
import { formatLintProblems, lintOpenApi } from './openapi/lint.js';
import { API_TYPES_FILE, generateApiTypes } from './openapi/types.js';

const USAGE = 'usage: tsx scripts/openapi.ts generate|lint';

async function main(command: string | undefined): Promise<number> {
  if (command === 'generate') {
    const text = await generateApiTypes(await fetchServedDocument());
    await mkdir(dirname(API_TYPES_FILE), { recursive: true });
    await writeFile(API_TYPES_FILE, text);
    console.log(`wrote ${relative(process.cwd(), API_TYPES_FILE)}`);
    return 0;
  }
  if (command === 'lint') {
    const report = await lintOpenApi(await fetchServedDocument());
    const { errors, warnings } = report.totals;
    if (report.problems.length > 0) console.log(formatLintProblems(report));
    console.log(`/openapi.json: ${errors} errors, ${warnings} warnings`);
    return errors + warnings === 0 ? 0 : 1;
  }
  console.error(USAGE);
  return 2;
}

process.exitCode = await main(process.argv[2]);
