import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Instance {
  url: string;
  pid: number | undefined;
  bareUrl: string | undefined;
  stats(): Promise<Record<string, any> | null>;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('./gateway-process.ts', import.meta.url));

/** Starts a gateway process with this environment (on top of quiet, limit-free defaults). */
export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child: ChildProcess = fork(script, [], {
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every gateway process, written there when it exits.
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '0', CACHE_WARMUP_USERS: '0', DEMO_SEED: 'false', PORT: '0', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ url: string; bareUrl?: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; bareUrl?: string }));
    child.once('exit', (code) => reject(new Error(`gateway process exited with ${code}`)));
  });
  return {
    url: ready.url,
    pid: child.pid,
    bareUrl: ready.bareUrl,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve((m as { stats: Record<string, any> | null }).stats));
        child.send({ cmd: 'stats' });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ cmd: 'exit' });
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
