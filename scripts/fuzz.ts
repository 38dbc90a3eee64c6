/**
 * HTTP fuzzer for the whole API: `npm run fuzz -- [--seed N] [--requests N] [--database-url URL]
 * [--redis-url URL] [--concurrency N] [--log-level LEVEL] [--json]`.
 *
 * Starts a gateway on a fresh PostgreSQL database of its own (created on the server of
 * --database-url, default postgres://postgres@127.0.0.1:5432, dropped at the end), creates two
 * victims and an attacker, and sends N seeded-random hostile requests over HTTP to every route
 * (enumerated from the app's route table). Checks: no 5xx; every error in the contract's shape with
 * the status's code; the process stays up; nothing of the victims reaches the attacker; rejected
 * requests leave the database unchanged. Exits 1 on any finding. See scripts/fuzz/*.ts.
 */
import { formatReport } from './fuzz/report.js';
import { runFuzz } from './fuzz/run.js';

interface Args {
  seed: number;
  requests: number;
  databaseUrl: string;
  redisUrl: string | undefined;
  concurrency: number;
  logLevel: string | undefined;
  json: boolean;
}

const USAGE = `usage: npm run fuzz -- [--seed N] [--requests N] [--database-url URL] [--redis-url URL] [--concurrency N] [--log-level LEVEL] [--json]`;

function parseArgs(argv: string[]): Args {
  const args: Args = {
    seed: Math.floor(Math.random() * 2 ** 31),
    requests: 5000,
    databaseUrl: 'postgres://postgres@127.0.0.1:5432',
    redisUrl: undefined,
    concurrency: 8,
    logLevel: undefined,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const int = (name: string, min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return n;
    };
    switch (flag) {
      case '--seed':
        args.seed = int('--seed', 0);
        break;
      case '--requests':
        args.requests = int('--requests', 1);
        break;
      case '--database-url':
        args.databaseUrl = value();
        break;
      case '--redis-url':
        args.redisUrl = value();
        break;
      case '--concurrency':
        args.concurrency = int('--concurrency', 1);
        break;
      case '--log-level':
        args.logLevel = value();
        break;
      case '--json':
        args.json = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.stderr.write(`fuzz: seed ${args.seed}, ${args.requests} requests, database server ${new URL(args.databaseUrl).host}${args.redisUrl ? `, redis ${new URL(args.redisUrl).host}` : ', memory-only cache'}\n`);
  const report = await runFuzz({
    seed: args.seed,
    requests: args.requests,
    databaseUrl: args.databaseUrl,
    redisUrl: args.redisUrl,
    concurrency: args.concurrency,
    logLevel: args.logLevel,
    progress: true,
  });
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  process.exitCode = report.findings.length > 0 ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
});
