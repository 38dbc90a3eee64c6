import { pino, type Logger } from 'pino';

/** A pino logger that counts the gateways' warnings and errors by message (printed in the summary). */
export class LogCollector {
  readonly counts = new Map<string, number>();
  readonly logger: Logger;
  errors = 0;
  warnings = 0;

  constructor(level = 'warn') {
    this.logger = pino({ level }, {
      write: (line: string) => {
        try {
          const rec = JSON.parse(line) as { level: number; msg?: string };
          if (rec.level >= 50) this.errors++;
          else if (rec.level >= 40) this.warnings++;
          const key = `${rec.level >= 50 ? 'error' : rec.level >= 40 ? 'warn' : 'info'}: ${rec.msg ?? '?'}`;
          this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        } catch {
          // not JSON: ignore
        }
      },
    });
  }

  top(n = 8): Array<[string, number]> {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  }
}
