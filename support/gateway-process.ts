import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HARNESS_ENV, type GatewayEnv } from './gateway.js';
import { HttpClient } from './http-client.js';
import type { ChildReady, ParentMessage } from './gateway-child.js';

/**
 * A gateway in a process of its own: for load that must not share the gateway's event loop
 * (benchmarks), and for what only a process can do — crash (SIGKILL) or freeze (SIGSTOP).
 */
export interface GatewayProcess {
  url: string;
  api: HttpClient;
  pid: number | undefined;
  /** What the child's entry added to its ready message (the benchmark's bare route). */
  extra: Record<string, unknown>;
  /** The cache engine's counters in the child, or null without an engine. */
  stats(): Promise<Record<string, any> | null>;
  /** The child's `process.memoryUsage()`, after a full collection when it runs with --expose-gc. */
  memory(): Promise<NodeJS.MemoryUsage>;
  /** Closes the gateway and waits for the process to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** SIGKILL: a crash, with no close and no goodbye to Redis or PostgreSQL. */
  kill(): Promise<void>;
  /** Sends a signal (SIGTERM: the graceful shutdown of `npm start`). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the process wrote to stdout and stderr so far (with `captureOutput`; else empty). */
  output(): string;
  pause(): void;
  resume(): void;
}

export interface GatewayProcessOptions {
  /** The child's entry (a module calling `serveGatewayChild`); default the plain one, support/gateway-child.ts. */
  entry?: string;
  /** Node options of the child after `--import tsx` (a CPU profile, for example). */
  execArgv?: string[];
  /** Longest wait for the child to listen (default 60 s). */
  startTimeoutMs?: number;
  /** Keep the child's stdout and stderr for `output()` instead of passing them through. */
  captureOutput?: boolean;
}

const DEFAULT_ENTRY = fileURLToPath(new URL('./gateway-child.ts', import.meta.url));

/** Starts a gateway process on `HARNESS_ENV` + `env` (and this process's environment beneath). */
export async function startGatewayProcess(env: GatewayEnv, opts: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const child: ChildProcess = fork(opts.entry ?? DEFAULT_ENTRY, [], {
    execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])],
    env: { ...process.env, ...HARNESS_ENV, ...env },
    stdio: opts.captureOutput ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const exited = ended.then(() => undefined);
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const kill = async () => {
    if (gone()) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  };
  let ready: ChildReady;
  try {
    ready = await new Promise<ChildReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway process did not listen within ${opts.startTimeoutMs ?? 60_000} ms`)), opts.startTimeoutMs ?? 60_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as ChildReady);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`gateway process exited with ${code ?? signal} before listening`));
      });
    });
  } catch (err) {
    await kill();
    throw err;
  }
  const send = (m: ParentMessage) => child.send(m);
  /** Sends `m` and resolves with the field `key` of the first answer that has it. */
  const ask = <T>(m: ParentMessage, key: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (answer: unknown) => {
        if (typeof answer !== 'object' || answer === null || !(key in answer)) return;
        child.off('message', onMessage);
        resolve((answer as Record<string, unknown>)[key] as T);
      };
      child.on('message', onMessage);
      send(m);
    });
  const { url, ...extra } = ready;
  return {
    url,
    api: new HttpClient(url),
    pid: child.pid,
    extra,
    stats: () => ask<Record<string, any> | null>({ cmd: 'stats' }, 'stats'),
    memory: () => ask<NodeJS.MemoryUsage>({ cmd: 'memory' }, 'memory'),
    stop: async () => {
      if (gone()) return;
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.kill('SIGCONT');
      send({ cmd: 'exit' });
      await exited;
      clearTimeout(force);
    },
    kill,
    signal: (signal) => void (gone() || child.kill(signal)),
    exited: ended,
    output: () => out,
    pause: () => void (gone() || child.kill('SIGSTOP')),
    resume: () => void (gone() || child.kill('SIGCONT')),
  };
}
