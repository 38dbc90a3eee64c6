/** One line on stderr: redrawn on a terminal, every 10 % otherwise. */
export class Progress {
  private sent = 0;
  private last = 0;
  private lastDecile = -1;
  private name = '';
  private readonly started = performance.now();

  constructor(
    private readonly on: boolean,
    private readonly total: number,
  ) {}

  phase(name: string): void {
    this.name = name;
  }

  tick(findings: number): void {
    this.sent++;
    if (!this.on) return;
    const now = performance.now();
    const tty = process.stderr.isTTY;
    const decile = Math.floor((this.sent / Math.max(1, this.total)) * 10);
    if (tty ? now - this.last < 200 : decile === this.lastDecile) return;
    this.last = now;
    this.lastDecile = decile;
    const rps = Math.round(this.sent / ((now - this.started) / 1000));
    const line = `fuzz: ${this.sent}/${this.total} requests (${this.name}), ${rps} req/s, ${findings} finding kind(s)`;
    process.stderr.write(tty ? `\r${line.padEnd(100)}` : `${line}\n`);
  }

  done(): void {
    if (this.on && process.stderr.isTTY) process.stderr.write('\n');
  }
}
