import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** The machine's shared Redis, for tests and tools that never stop or pause it. */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Fails with a clear message unless redis-server is on the PATH and the shared Redis answers. */
export async function assertRedisServerAvailable(): Promise<void> {
  try {
    await run('redis-server', ['--version']);
  } catch (err) {
    throw new Error(`redis-server must be on the PATH for the tests: ${String(err)}`);
  }
  const r = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    throw new Error(`Redis is required for the tests and did not answer at ${SHARED_REDIS_URL}: ${String(err)}`);
  } finally {
    r.disconnect();
  }
}

export interface RedisServerOptions {
  /** Arguments after the defaults (port, bind, no persistence, quiet log). */
  args?: string[];
  /** Working directory of the server (where it writes any file it keeps). */
  cwd?: string;
  /** Longest wait for the server to answer PING (default 10 s). */
  startTimeoutMs?: number;
}

/** The last bytes a server printed, kept to explain why it did not start. */
const OUTPUT_KEPT = 4096;

/**
 * A redis-server of our own, on a free port, that a test, a benchmark or a checker may stop, pause
 * (SIGSTOP), resume and restart. Only this child process is ever signalled: never the machine's Redis,
 * never anything by name.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private paused = false;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `127.0.0.1:<port>`, as Redis Cluster names its nodes. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the server printed last (its log at `warning` level), for error messages. */
  get recentOutput(): string {
    return this.output;
  }

  static async start(options: RedisServerOptions = {}, port?: number): Promise<RedisServer> {
    const r = new RedisServer(port ?? (await freePort()), options);
    await r.startProcess();
    return r;
  }

  private async startProcess(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...(this.options.args ?? [])];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.options.cwd });
    this.output = '';
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    this.paused = false;
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 10_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}:\n${this.output}`);
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined); // refused until the server listens: expected while polling
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`redis-server on port ${this.port} did not start:\n${this.output}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      } finally {
        probe.disconnect();
      }
    }
  }

  /** A plain client to this server (for assertions and CLIENT KILL); the caller disconnects it. */
  client(): Redis {
    const c = new Redis(this.url, { maxRetriesPerRequest: 1 });
    c.on('error', () => undefined); // while the server is paused or killed on purpose
    return c;
  }

  pause(): void {
    if (!this.isRunning) return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.isRunning) this.child!.kill('SIGCONT');
    this.paused = false;
  }

  /** SIGKILL (the data is lost, as with a crash of a server that keeps nothing on disk). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
    this.paused = false;
  }

  /** Starts the server again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.startProcess();
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
