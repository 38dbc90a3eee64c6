/**
 * The push benchmark's load generator: stream sockets (GET /api/v1/stream, the `ws` client) opened as
 * a browser would (token in the query), many at a time, and a wait for frames to arrive.
 */
import WebSocket from 'ws';
import { CLOSE } from '../../src/push/protocol.js';
import type { GatewayProcess } from '../../support/gateway-process.js';
import { cpuMs, summarize, type Summary } from './stats.js';

/** `performance.now()` taken first thing in the socket's 'message' handler, and the frame as it came. */
export type OnFrame = (data: Buffer, at: number) => void;

/** Attempts per connection when the server says "retry" (1001 before `ready`), as a client would. */
const MAX_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server closed the socket before `ready` with 1001: the stream could not start, retry. */
class RetryLater extends Error {}

/** A stream socket, open and past its `ready` frame; `onFrame` sees every later frame. */
export function connect(inst: GatewayProcess, token: string, onFrame: OnFrame): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${inst.url.replace(/^http/, 'ws')}/api/v1/stream?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    let ready = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no ready frame within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    ws.on('message', (data: Buffer) => {
      const at = performance.now();
      if (ready) return onFrame(data, at);
      if (!String(data).startsWith('{"type":"ready"')) return reject(new Error(`first frame is not ready: ${String(data).slice(0, 200)}`));
      ready = true;
      clearTimeout(timer);
      resolve(ws);
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      if (!ready) reject(code === CLOSE.GOING_AWAY ? new RetryLater(String(reason)) : new Error(`closed before ready: ${code} ${String(reason)}`));
    });
  });
}

/** `connect`, again after a short pause while the server says "retry". */
export async function connectRetrying(inst: GatewayProcess, token: string, onFrame: OnFrame): Promise<{ socket: WebSocket; retries: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { socket: await connect(inst, token, onFrame), retries: attempt - 1 };
    } catch (err) {
      if (!(err instanceof RetryLater) || attempt === MAX_ATTEMPTS) throw err;
      await sleep(50 * attempt);
    }
  }
}

export interface Connected {
  /** In the order of the tokens. */
  sockets: WebSocket[];
  seconds: number;
  perSecond: number;
  /** From opening a socket to its `ready` frame (retries included). */
  latency: Summary;
  /** The server's CPU per connection (ms, from /proc). */
  cpuMs: number;
  /** Connections the server closed with 1001 before `ready` ("retry"), opened again. */
  retries: number;
}

/** One socket per token to `inst`, `inFlight` upgrades at a time; `onFrame` gets the token's index. */
export async function connectAll(
  inst: GatewayProcess,
  tokens: readonly string[],
  inFlight: number,
  onFrame: (i: number, data: Buffer, at: number) => void,
  report: (done: number) => void,
): Promise<Connected> {
  const sockets: WebSocket[] = new Array(tokens.length);
  const latencies: number[] = [];
  let next = 0;
  let retries = 0;
  const cpu0 = cpuMs(inst.pid) ?? NaN;
  const t0 = performance.now();
  const worker = async () => {
    while (next < tokens.length) {
      const i = next++;
      const t = performance.now();
      const c = await connectRetrying(inst, tokens[i]!, (data, at) => onFrame(i, data, at));
      sockets[i] = c.socket;
      retries += c.retries;
      latencies.push(performance.now() - t);
      if (latencies.length % 100 === 0) report(latencies.length);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return {
    sockets,
    seconds,
    perSecond: tokens.length / seconds,
    latency: summarize(latencies),
    cpuMs: ((cpuMs(inst.pid) ?? NaN) - cpu0) / tokens.length,
    retries,
  };
}

/**
 * A wait on frames: `until(done)` checks `done` after every `notify()` (a frame handler calls it), and
 * resolves false when the time is up first.
 */
export class Arrivals {
  private wake: (() => void) | undefined;

  constructor(private readonly timeoutMs: number) {}

  notify(): void {
    this.wake?.();
  }

  async until(done: () => boolean): Promise<boolean> {
    const deadline = performance.now() + this.timeoutMs;
    while (!done()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return true;
  }
}

/**
 * Watches instances' cache coherence until stopped: which of them stopped being coherent (a lapsed
 * lease) meanwhile, seen as `coherent: false` in their stats (asked every 100 ms) or as an L1 flush
 * (what regaining coherence does: a lapse too short to be seen between two questions).
 */
export function watchCoherence(insts: readonly GatewayProcess[]): { stop(): Promise<boolean[]> } {
  const lost = insts.map(() => false);
  const flushes = Promise.all(insts.map(async (i) => Number((await i.stats())?.l1Flushes ?? 0)));
  let stopped = false;
  const loop = (async () => {
    await flushes;
    while (!stopped) {
      const stats = await Promise.all(insts.map((i) => i.stats()));
      stats.forEach((st, k) => (lost[k] ||= st?.coherent === false));
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const before = await flushes;
      const after = await Promise.all(insts.map(async (i) => Number((await i.stats())?.l1Flushes ?? 0)));
      return lost.map((l, k) => l || after[k]! > before[k]!);
    },
  };
}

/** Until every instance's cache is coherent again (its lease held), at most `timeoutMs`. */
export async function untilCoherent(insts: readonly GatewayProcess[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await Promise.all(insts.map((i) => i.stats()));
    if (stats.every((st) => st?.coherent !== false)) return;
    if (performance.now() > deadline) throw new Error(`an instance's cache is still not coherent after ${timeoutMs} ms`);
    await sleep(100);
  }
}
