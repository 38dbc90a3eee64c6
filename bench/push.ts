/**
 * Section 6 of `npm run bench`: live updates (GET /api/v1/stream) across instances, on an empty database
 * of its own (no dataset: the users it needs are inserted straight into it).
 *
 * Two gateway processes on one PostgreSQL and one Redis: A takes the writes, B holds the sockets. This
 * process is the load generator (the `ws` client) and shares the 2 cores with both.
 *  - idle connections: N users connected to B (one socket each, each user in one direct conversation
 *    with another idle user), opened a few at a time; B's RSS and heap before and after, per connection;
 *  - latency: with those N present, one more pair in a direct conversation, the reader on B, the writer
 *    posting on A one message after the other: from the POST's 2xx (and from its sending) to the
 *    `message` and `conversation` frames on the reader's socket; B's CPU per write;
 *  - fan-out: a 200-member group, every member connected (all to B, then half to A and half to B), one
 *    post on A at a time: from the 2xx to the last of the 200 sockets holding its frames.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { CLOSE } from '../src/push/protocol.js';
import type { GatewayProcess } from '../support/gateway-process.js';
import type { RedisServer } from '../support/redis.js';
import { createBenchDatabase } from './lib/pg.js';
import type { Progress } from './lib/progress.js';
import { cpuMs, round, summarize, type Summary } from './lib/stats.js';

export interface PushBenchOptions {
  redis: RedisServer;
  progress: Progress;
  tokenFor(u: User): string;
  startInstance(env: Record<string, string>, execArgv?: string[]): Promise<GatewayProcess>;
  jwtSecret: string;
  /** Idle connections on B at each step, ascending (default 1,000 then 10,000). */
  idle: number[];
}

interface User {
  id: string;
  username: string;
}

const LIST = '/api/v1/conversations';
const POSTS = 300;
const FANOUT_MEMBERS = 200;
const FANOUT_POSTS = 30;
/** Upgrades in flight at once: gentle on a 2-core machine that also runs both gateways. */
const CONNECTING = 16;
/** Attempts per connection when the server says "retry" (1001 before `ready`), as a client would. */
const MAX_ATTEMPTS = 5;
const FRAME_TIMEOUT_MS = 10_000;
const MESSAGE_PREFIX = Buffer.from('{"type":"message"');
const CONVERSATION_PREFIX = Buffer.from('{"type":"conversation"');

const startsWith = (data: Buffer, prefix: Buffer) => data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Open-file limit (soft) of a process, from /proc: Node cannot raise its own (no setrlimit). */
function openFileLimit(pid: number | 'self'): number {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === 'unlimited' ? Infinity : Number(soft);
}

/** VmRSS of a process, in bytes. */
function rssBytes(pid: number | undefined): number {
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

async function memoryOf(inst: GatewayProcess): Promise<Memory> {
  const m = await inst.memory(); // a full collection in the child first (it runs with --expose-gc)
  return { rss: rssBytes(inst.pid), heapUsed: m.heapUsed, external: m.external };
}

/** The server closed the socket before `ready` with 1001: the stream could not start, retry. */
class RetryLater extends Error {}

/** A stream socket, open and past its `ready` frame; `onFrame` sees every later frame. */
function connect(inst: GatewayProcess, token: string, onFrame: (data: Buffer, at: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${inst.url.replace(/^http/, 'ws')}/api/v1/stream?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    let ready = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no ready frame within 30 s'));
    }, 30_000);
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

/** `connect`, again after a short pause while the server says "retry" (as a client would). */
async function connectRetrying(inst: GatewayProcess, token: string, onFrame: (data: Buffer, at: number) => void): Promise<{ socket: WebSocket; retries: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { socket: await connect(inst, token, onFrame), retries: attempt - 1 };
    } catch (err) {
      if (!(err instanceof RetryLater) || attempt === MAX_ATTEMPTS) throw err;
      await sleep(50 * attempt);
    }
  }
}

interface Connecting {
  sockets: WebSocket[];
  seconds: number;
  perSecond: number;
  latency: Summary;
  /** B's CPU per connection (ms). */
  cpuMs: number;
  /** Connections the server closed with 1001 before `ready` ("retry"), opened again by the client. */
  retries: number;
}

/** Connects `users` to `inst`, CONNECTING at a time: time, rate, per-connection latency and CPU. */
async function connectAll(inst: GatewayProcess, users: User[], tokenFor: (u: User) => string, onFrame: (i: number, data: Buffer, at: number) => void, report: (done: number) => void): Promise<Connecting> {
  const sockets: WebSocket[] = new Array(users.length);
  const latencies: number[] = [];
  let next = 0;
  let retries = 0;
  const cpu0 = cpuMs(inst.pid) ?? NaN;
  const t0 = performance.now();
  const worker = async () => {
    while (next < users.length) {
      const i = next++;
      const t = performance.now();
      const c = await connectRetrying(inst, tokenFor(users[i]!), (data, at) => onFrame(i, data, at));
      sockets[i] = c.socket;
      retries += c.retries;
      latencies.push(performance.now() - t);
      if (i % 100 === 0) report(latencies.length);
    }
  };
  await Promise.all(Array.from({ length: CONNECTING }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { sockets, seconds, perSecond: users.length / seconds, latency: summarize(latencies), cpuMs: ((cpuMs(inst.pid) ?? NaN) - cpu0) / users.length, retries };
}

/** Resolves when `done()` holds, checked after every frame; rejects after FRAME_TIMEOUT_MS. */
class Arrivals {
  private wake: (() => void) | undefined;
  notify(): void {
    this.wake?.();
  }
  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + FRAME_TIMEOUT_MS;
    while (!done()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${what}: not every frame came within ${FRAME_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}

async function insertUsers(db: Awaited<ReturnType<typeof createBenchDatabase>>['db'], n: number): Promise<User[]> {
  const { rows } = await db.query<User>(
    `INSERT INTO users (username, password_hash, display_name)
     SELECT 'push_' || i, 'bench$no-login', 'Push User ' || i FROM generate_series(1, $1::int) i
     RETURNING id::text AS id, username`,
    [n],
  );
  return rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** One direct conversation (no messages yet) per consecutive pair of `users`, as the store would write it. */
async function pairUp(db: Awaited<ReturnType<typeof createBenchDatabase>>['db'], users: User[]): Promise<void> {
  const a = users.filter((_, i) => i % 2 === 0 && i + 1 < users.length).map((u) => u.id);
  const b = users.filter((_, i) => i % 2 === 1).map((u) => u.id);
  await db.query(
    `WITH c AS (
       INSERT INTO conversations (type, direct_key, created_by, member_count)
       SELECT 'direct', least(a, b) || ':' || greatest(a, b), a, 2 FROM unnest($1::bigint[], $2::bigint[]) AS p(a, b)
       RETURNING id, direct_key, created_at)
     INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, sort_at)
     SELECT c.id, m.uid, 'member', c.created_at, c.created_at FROM c
     CROSS JOIN LATERAL (VALUES (split_part(c.direct_key, ':', 1)::bigint), (split_part(c.direct_key, ':', 2)::bigint)) AS m(uid)`,
    [a, b],
  );
}

export interface PushResults {
  idle: Array<{
    from: number;
    to: number;
    connecting: Omit<Connecting, 'sockets'>;
    before: Memory;
    after: Memory;
    perConnection: { rss: number; heapUsed: number; external: number };
    loadGeneratorRss: number;
  }>;
  latency: Array<{
    idle: number;
    posts: number;
    messageFromAck: Summary;
    conversationFromAck: Summary;
    messageFromSend: Summary;
    conversationFromSend: Summary;
    post: Summary;
    /** Frames that came before the POST's answer was read. */
    messageBeforeAck: number;
    cpuPerWriteMs: { a: number; b: number };
    idleCpuMsPerSecondB: number;
  }>;
  fanout: Array<{
    layout: string;
    idle: number;
    posts: number;
    lastMessageFromAck: Summary;
    lastConversationFromAck: Summary;
    firstMessageFromAck: Summary;
    lastMessageFromSend: Summary;
    post: Summary;
    cpuPerWriteMs: { a: number; b: number };
  }>;
  framesOnIdleSockets: number;
  /** Group members' connections retried after a 1001 before `ready`. */
  groupRetries: number;
  openFileLimit: { loadGenerator: number; b: number };
}

export async function pushBench(o: PushBenchOptions): Promise<{ results: PushResults; md: string[] }> {
  if (o.idle.length === 0 || o.idle.some((n, i) => !Number.isInteger(n) || n < 1 || n <= (o.idle[i - 1] ?? 0))) {
    throw new Error(`--push-idle: ascending positive integers, got ${o.idle.join(',')}`);
  }
  const maxIdle = o.idle.at(-1)!;
  const limits = { loadGenerator: openFileLimit('self'), b: 0 };
  // Each socket is a descriptor in this process and one in B (both inherit this shell's `ulimit -n`).
  if (limits.loadGenerator < maxIdle + FANOUT_MEMBERS + 500) {
    throw new Error(`open-file limit ${limits.loadGenerator} is too low for ${maxIdle} connections: raise it (ulimit -n ${maxIdle + 2000}) and run again`);
  }
  const database = await createBenchDatabase('chatgate_bench_push', { max: 4 });
  const started: GatewayProcess[] = [];
  const clients: WebSocket[] = [];
  try {
    o.progress.update('push: users', 0);
    const users = await insertUsers(database.db, maxIdle + 2 + FANOUT_MEMBERS);
    const idleUsers = users.slice(0, maxIdle);
    const [writer, reader] = users.slice(maxIdle, maxIdle + 2) as [User, User];
    const group = users.slice(maxIdle + 2);
    await pairUp(database.db, idleUsers);
    await database.db.query('VACUUM (ANALYZE) users, conversations, conversation_members');

    const env = { LOG_LEVEL: process.env.BENCH_PUSH_LOG ?? 'warn', DATABASE_URL: database.url, REDIS_URL: o.redis.url, JWT_SECRET: o.jwtSecret, CACHE_NAMESPACE: 'cgpush' };
    const gc = ['--expose-gc'];
    const a = await o.startInstance(env, gc);
    started.push(a);
    const b = await o.startInstance(env, gc);
    started.push(b);
    limits.b = openFileLimit(b.pid!);

    const writerToken = o.tokenFor(writer);
    const direct = await a.api.post(LIST, writerToken, { type: 'direct', memberIds: [reader.id] });
    if (direct.status !== 201) throw new Error(`create direct: ${direct.status} ${direct.text}`);
    const directId: string = direct.body.data.id;
    const groupToken = o.tokenFor(group[0]!);
    const made = await a.api.post(LIST, groupToken, { type: 'group', title: 'Push fan-out', memberIds: group.slice(1).map((u) => u.id) });
    if (made.status !== 201) throw new Error(`create group: ${made.status} ${made.text}`);
    const groupId: string = made.body.data.id;

    let framesOnIdle = 0;
    const results: PushResults = { idle: [], latency: [], fanout: [], framesOnIdleSockets: 0, groupRetries: 0, openFileLimit: limits };

    // ---- the reader: its frames by message id, as they arrive ------------------------------------
    const readerArrivals = new Arrivals();
    const seen = new Map<string, { message?: number; conversation?: number }>();
    const onReaderFrame = (data: Buffer, at: number) => {
      const f = JSON.parse(String(data)) as { type: string; messageId?: string; item?: { lastMessage?: { id: string } | null } };
      const id = f.type === 'message' ? f.messageId : f.type === 'conversation' ? f.item?.lastMessage?.id : undefined;
      if (id === undefined) return;
      const s = seen.get(id) ?? {};
      if (f.type === 'message') s.message ??= at;
      else s.conversation ??= at;
      seen.set(id, s);
      readerArrivals.notify();
    };

    let connected = 0;
    let readerSocket: WebSocket | undefined;
    for (const n of o.idle) {
      // ---- idle connections, from `connected` to `n` ---------------------------------------------
      const before = await memoryOf(b);
      const step = idleUsers.slice(connected, n);
      const c = await connectAll(b, step, o.tokenFor, () => framesOnIdle++, (done) => o.progress.update(`push: connecting ${connected.toLocaleString('en-US')} → ${n.toLocaleString('en-US')}`, done, step.length));
      clients.push(...c.sockets);
      await sleep(500); // what the last connections started (member states, journal reads) is done
      const after = await memoryOf(b);
      const { sockets: _, ...connecting } = c;
      results.idle.push({
        from: connected,
        to: n,
        connecting,
        before,
        after,
        perConnection: {
          rss: (after.rss - before.rss) / step.length,
          heapUsed: (after.heapUsed - before.heapUsed) / step.length,
          external: (after.external - before.external) / step.length,
        },
        loadGeneratorRss: process.memoryUsage().rss,
      });
      connected = n;

      // ---- latency of one reader on B, the writer posting on A ------------------------------------
      if (readerSocket === undefined) {
        readerSocket = (await connectRetrying(b, o.tokenFor(reader), onReaderFrame)).socket;
        clients.push(readerSocket);
      }
      const idleCpu0 = cpuMs(b.pid) ?? NaN;
      await sleep(2000);
      const idleCpuMsPerSecondB = ((cpuMs(b.pid) ?? NaN) - idleCpu0) / 2;
      const fromAck = { message: [] as number[], conversation: [] as number[] };
      const fromSend = { message: [] as number[], conversation: [] as number[] };
      const posts: number[] = [];
      let messageBeforeAck = 0;
      const cpu0 = [cpuMs(a.pid) ?? NaN, cpuMs(b.pid) ?? NaN];
      for (let i = 0; i < POSTS; i++) {
        if (i % 20 === 0) o.progress.update(`push: latency with ${n.toLocaleString('en-US')} idle`, i, POSTS);
        const r = await a.api.post(`${LIST}/${directId}/messages`, writerToken, { content: `push ${n} ${i}` });
        if (r.status !== 201) throw new Error(`POST message: ${r.status} ${r.text}`);
        const id: string = r.body.data.id;
        await readerArrivals.until(() => seen.get(id)?.message !== undefined && seen.get(id)?.conversation !== undefined, `message ${id}`);
        const s = seen.get(id)!;
        seen.delete(id);
        fromAck.message.push(s.message! - r.doneAt);
        fromAck.conversation.push(s.conversation! - r.doneAt);
        fromSend.message.push(s.message! - r.sentAt);
        fromSend.conversation.push(s.conversation! - r.sentAt);
        posts.push(r.doneAt - r.sentAt);
        if (s.message! < r.doneAt) messageBeforeAck++;
      }
      results.latency.push({
        idle: n,
        posts: POSTS,
        messageFromAck: summarize(fromAck.message),
        conversationFromAck: summarize(fromAck.conversation),
        messageFromSend: summarize(fromSend.message),
        conversationFromSend: summarize(fromSend.conversation),
        post: summarize(posts),
        messageBeforeAck,
        cpuPerWriteMs: { a: ((cpuMs(a.pid) ?? NaN) - cpu0[0]!) / POSTS, b: ((cpuMs(b.pid) ?? NaN) - cpu0[1]!) / POSTS },
        idleCpuMsPerSecondB,
      });
    }

    // ---- fan-out: 200 members connected, one post on A at a time -----------------------------------
    // Per round, each member socket's first message and conversation frame: only a prefix test on
    // arrival (the load generator's own work would count in "the last socket"); checked after.
    const round = {
      message: new Float64Array(FANOUT_MEMBERS),
      conversation: new Float64Array(FANOUT_MEMBERS),
      messageFrames: new Array<Buffer | undefined>(FANOUT_MEMBERS),
      messages: 0,
      conversations: 0,
      reset() {
        this.message.fill(NaN);
        this.conversation.fill(NaN);
        this.messageFrames.fill(undefined);
        this.messages = this.conversations = 0;
      },
    };
    round.reset();
    const fanoutArrivals = new Arrivals();
    const onMemberFrame = (i: number, data: Buffer, at: number) => {
      if (startsWith(data, MESSAGE_PREFIX) && Number.isNaN(round.message[i]!)) {
        round.message[i] = at;
        round.messageFrames[i] = data;
        round.messages++;
      } else if (startsWith(data, CONVERSATION_PREFIX) && Number.isNaN(round.conversation[i]!)) {
        round.conversation[i] = at;
        round.conversations++;
      } else return;
      if (round.messages === FANOUT_MEMBERS && round.conversations === FANOUT_MEMBERS) fanoutArrivals.notify();
    };
    const fanoutRun = async (layout: string) => {
      const last = { message: [] as number[], conversation: [] as number[], first: [] as number[], fromSend: [] as number[] };
      const posts: number[] = [];
      const cpu0 = [cpuMs(a.pid) ?? NaN, cpuMs(b.pid) ?? NaN];
      for (let i = 0; i < FANOUT_POSTS; i++) {
        o.progress.update(`push: fan-out (${layout})`, i, FANOUT_POSTS);
        round.reset();
        const r = await a.api.post(`${LIST}/${groupId}/messages`, groupToken, { content: `fan-out ${i}` });
        if (r.status !== 201) throw new Error(`POST message: ${r.status} ${r.text}`);
        const id: string = r.body.data.id;
        await fanoutArrivals.until(() => round.messages === FANOUT_MEMBERS && round.conversations === FANOUT_MEMBERS, `fan-out message ${id}`);
        for (const f of round.messageFrames) {
          const got = (JSON.parse(String(f)) as { messageId: string }).messageId;
          if (got !== id) throw new Error(`fan-out: a member got message ${got}, expected ${id}`);
        }
        const lastMessage = Math.max(...round.message);
        last.message.push(lastMessage - r.doneAt);
        last.conversation.push(Math.max(...round.conversation) - r.doneAt);
        last.first.push(Math.min(...round.message) - r.doneAt);
        last.fromSend.push(lastMessage - r.sentAt);
        posts.push(r.doneAt - r.sentAt);
      }
      results.fanout.push({
        layout,
        idle: connected,
        posts: FANOUT_POSTS,
        lastMessageFromAck: summarize(last.message),
        lastConversationFromAck: summarize(last.conversation),
        firstMessageFromAck: summarize(last.first),
        lastMessageFromSend: summarize(last.fromSend),
        post: summarize(posts),
        cpuPerWriteMs: { a: ((cpuMs(a.pid) ?? NaN) - cpu0[0]!) / FANOUT_POSTS, b: ((cpuMs(b.pid) ?? NaN) - cpu0[1]!) / FANOUT_POSTS },
      });
    };
    const report = (done: number) => o.progress.update('push: connecting the group', done, FANOUT_MEMBERS);
    const onB = await connectAll(b, group, o.tokenFor, onMemberFrame, report);
    clients.push(...onB.sockets);
    await fanoutRun(`${FANOUT_MEMBERS} on B`);
    const half = FANOUT_MEMBERS / 2;
    for (const s of onB.sockets.slice(half)) s.terminate();
    const onA = await connectAll(a, group.slice(half), o.tokenFor, (i, data, at) => onMemberFrame(half + i, data, at), report);
    clients.push(...onA.sockets);
    results.groupRetries = onB.retries + onA.retries;
    await sleep(500); // B has seen the closes of the terminated sockets
    await fanoutRun(`${half} on A, ${half} on B`);

    results.framesOnIdleSockets = framesOnIdle;
    return { results, md: markdown(results) };
  } finally {
    o.progress.update('push: closing', 0);
    for (const c of clients) c.terminate();
    for (const i of started) await i.stop();
    await database.drop();
  }
}

function markdown(r: PushResults): string[] {
  const ms = (x: number) => round(x);
  const kb = (x: number) => round(x / 1024);
  const mb = (x: number) => round(x / 1048576);
  const pair = (s: Summary) => `${ms(s.p50)} / ${ms(s.p99)}`;
  return [
    '### 6. Live updates: GET /api/v1/stream, a write on A, the sockets on B (two gateway processes, one PostgreSQL, one Redis; this process is the client)',
    `Idle connections on B (one user each, each in one direct conversation; opened ${CONNECTING} at a time; memory after a full GC in B):`,
    '',
    '| connections | time (s) | connections/s | connect → ready p50 / p99 (ms) | retried (1001 before ready) | B CPU ms per connection | B RSS before → after (MB) | B heap before → after (MB) | per connection: RSS / heap / external (KB) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.idle.map(
      (x) =>
        `| ${x.from.toLocaleString('en-US')} → ${x.to.toLocaleString('en-US')} | ${round(x.connecting.seconds)} | ${Math.round(x.connecting.perSecond)} | ${pair(x.connecting.latency)} | ${x.connecting.retries} | ${round(x.connecting.cpuMs)} | ${mb(x.before.rss)} → ${mb(x.after.rss)} | ${mb(x.before.heapUsed)} → ${mb(x.after.heapUsed)} | ${kb(x.perConnection.rss)} / ${kb(x.perConnection.heapUsed)} / ${kb(x.perConnection.external)} |`,
    ),
    '',
    `Push latency: one direct conversation, the reader on B, ${POSTS} sequential POST messages on A, each waiting for both frames (ms; p50 / p99):`,
    '',
    '| idle on B | `message` frame after the 2xx | `conversation` frame after the 2xx | `message` after the POST was sent | `conversation` after sent | POST (2xx) | frames before the 2xx was read | CPU ms per write: A / B | B idle CPU ms/s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.latency.map(
      (x) =>
        `| ${x.idle.toLocaleString('en-US')} | **${pair(x.messageFromAck)}** | ${pair(x.conversationFromAck)} | ${pair(x.messageFromSend)} | ${pair(x.conversationFromSend)} | ${pair(x.post)} | ${x.messageBeforeAck}/${x.posts} | ${round(x.cpuPerWriteMs.a)} / ${round(x.cpuPerWriteMs.b)} | ${round(x.idleCpuMsPerSecondB)} |`,
    ),
    '',
    `Fan-out: a ${FANOUT_MEMBERS}-member group, every member connected, ${FANOUT_POSTS} sequential posts on A (ms after the 2xx; p50 / p99):`,
    '',
    '| members connected | idle on B | last socket with the `message` | last with the `conversation` | first with the `message` | last `message` after the POST was sent | POST (2xx) | CPU ms per write: A / B |',
    '|---|---|---|---|---|---|---|---|',
    ...r.fanout.map(
      (x) =>
        `| ${x.layout} | ${x.idle.toLocaleString('en-US')} | **${pair(x.lastMessageFromAck)}** | ${pair(x.lastConversationFromAck)} | ${pair(x.firstMessageFromAck)} | ${pair(x.lastMessageFromSend)} | ${pair(x.post)} | ${round(x.cpuPerWriteMs.a)} / ${round(x.cpuPerWriteMs.b)} |`,
    ),
    '',
    `Times are this process's clock at the 'message' event of its socket and at the end of the POST's body: a negative value is a frame this process read before the 2xx. The client shares the 2 cores with both gateways, Redis and PostgreSQL. Frames on idle sockets: ${r.framesOnIdleSockets} (expected 0). Group members' connections retried: ${r.groupRetries}. Open-file limit: ${r.openFileLimit.loadGenerator} here, ${r.openFileLimit.b} in B (Node cannot raise its own; \`ulimit -n\` before the run). CPU from /proc (10 ms ticks).`,
    'Reproduce: `npm run bench -- --only push` (`--push-idle 1000,10000` for the steps).',
    '',
  ];
}
