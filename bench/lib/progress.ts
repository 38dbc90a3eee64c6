/**
 * A single-line progress display on stderr. On a TTY the line is rewritten in place (`\r`),
 * at most every `intervalMs`; otherwise (CI, pipes, log files) a plain line is printed when a
 * phase starts, at most every `plainIntervalMs` while it runs, and when it ends.
 *
 *   const p = new Progress('1M messages');
 *   p.update('messages', 250_000, 1_000_000);   // [1M messages] messages 250,000/1,000,000  25.0%  312,000/s  0:03
 *   p.done('generated in 41.2 s');
 */
export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Overrides TTY detection (e.g. to force plain lines). */
  tty?: boolean;
  intervalMs?: number;
  plainIntervalMs?: number;
}

const fmt = new Intl.NumberFormat('en-US');

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly plainIntervalMs: number;
  private readonly started = Date.now();
  private phase = '';
  private phaseStarted = Date.now();
  private lastDraw = 0;
  private lastLine = '';
  private drawn = false;

  constructor(
    private readonly label: string,
    opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.intervalMs = opts.intervalMs ?? 100;
    this.plainIntervalMs = opts.plainIntervalMs ?? 5_000;
  }

  /** Reports `done` of `total` units of `phase` (`total` 0 or omitted: a phase without a count). */
  update(phase: string, done: number, total = 0): void {
    const now = Date.now();
    const newPhase = phase !== this.phase;
    if (newPhase) {
      if (!this.tty && this.phase && this.lastLine) this.write(`${this.lastLine}\n`); // previous phase's final state
      this.phase = phase;
      this.phaseStarted = now;
    }
    const finished = total > 0 && done >= total;
    const line = this.render(phase, done, total, now);
    this.lastLine = line;
    if (this.tty) {
      if (newPhase || finished || now - this.lastDraw >= this.intervalMs) {
        this.write(`\r${line}\x1b[K`);
        this.drawn = true;
        this.lastDraw = now;
      }
    } else if (newPhase || now - this.lastDraw >= this.plainIntervalMs) {
      this.write(`${line}\n`);
      this.lastDraw = now;
      this.lastLine = '';
    }
  }

  /** Ends the line (TTY) and prints a closing message. */
  done(message?: string): void {
    if (this.tty && this.drawn) this.write('\r\x1b[K');
    else if (!this.tty && this.lastLine) this.write(`${this.lastLine}\n`);
    this.lastLine = '';
    this.drawn = false;
    this.phase = '';
    if (message) this.write(`[${this.label}] ${message}\n`);
  }

  /** Prints a message on its own line without breaking the progress line. */
  log(message: string): void {
    if (this.tty && this.drawn) this.write('\r\x1b[K');
    this.write(`[${this.label}] ${message}\n`);
    if (this.tty && this.drawn && this.lastLine) this.write(this.lastLine);
  }

  private render(phase: string, done: number, total: number, now: number): string {
    const elapsed = now - this.started;
    let s = `[${this.label}] ${phase}`;
    if (total > 0) {
      const pct = Math.min(100, (100 * done) / total);
      const secs = (now - this.phaseStarted) / 1000;
      const rate = secs > 0.2 ? `  ${fmt.format(Math.round(done / secs))}/s` : '';
      s += ` ${fmt.format(done)}/${fmt.format(total)}  ${pct.toFixed(1)}%${rate}`;
    } else if (done > 0) {
      s += ` ${fmt.format(done)}`;
    }
    return `${s}  ${formatDuration(elapsed)}`;
  }

  private write(s: string): void {
    this.stream.write(s);
  }
}
