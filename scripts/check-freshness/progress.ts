/** One status line on stderr: rewritten in place on a TTY, a plain line every few seconds otherwise. */
export class Progress {
  private lastPlain = 0;
  private wrote = false;

  constructor(
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 2000,
  ) {}

  update(line: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\x1b[K`);
      this.wrote = true;
    } else if (performance.now() - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = performance.now();
      this.stream.write(`${line}\n`);
    }
  }

  done(line?: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY && this.wrote) this.stream.write(`\r${line ?? ''}\x1b[K\n`);
    else if (line) this.stream.write(`${line}\n`);
    this.wrote = false;
  }
}
