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
 *    `message` and `conversation` frames on the reader's socket; CPU per write;
 *  - fan-out: a 200-member group, every member connected (all to B, then half to A and half to B), one
 *    post on A at a time: from the 2xx to the last of the 200 sockets holding its frames.
 */
import { readFileSync } from 'node:fs';
import type WebSocket from 'ws';
import type { Db } from '../src/db/index.js';
import type { GatewayProcess } from '../support/gateway-process.js';
import type { RedisServer } from '../support/redis.js';
import { createBenchDatabase } from './lib/pg.js';
import type { Progress } from './lib/progress.js';
import { cpuMs, round, summarize, type Summary } from './lib/stats.js';
import { Arrivals, connectAll, connectRetrying, untilCoherent, watchCoherence, type Connected } from './lib/stream-client.js';

export interface PushBenchOptions {
  redis: RedisServer;
  progress: Progress;
  jwtSecret: string;
  tokenFor(u: User): string;
  startInstance(env: Record<string, string>, execArgv?: string[]): Promise<GatewayProcess>;
  /** Idle connections on B at each step, ascending. */
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
/** Messages in the first group before its second measured run: more than a conversation's cached recent ones (50). */
const BEHIND = 60;
/** Upgrades in flight at once: gentle on a 2-core machine that also runs both gateways. */
const CONNECTING = 16;
/** Longer than a write's frames can be held without its settlement (lease + ack timeout + Redis timeout). */
const FRAME_TIMEOUT_MS = 10_000;
/** Writes whose frames may be missed in one run (after a resync, say) before the run is given up. */
const MAX_MISSED = 3;
/** How long instances may take to be coherent again before a measurement starts. */
const COHERENT_TIMEOUT_MS = 15_000;
const RESYNC_PREFIX = Buffer.from('{"type":"resync"');
/** How long B's CPU is watched with only the idle sockets connected. */
const IDLE_SECONDS = 3;
/** How long B's coherence is watched after the mass disconnect (longer than a lease, 2 s). */
const DISCONNECT_WATCH_MS = 3000;
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

/** CPU used so far by each PostgreSQL backend of this database (the gateways' pools). */
async function backendCpu(db: Db): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  return new Map(rows.map((r) => [r.pid, cpuMs(r.pid) ?? 0]));
}

interface CpuPerWrite {
  a: number;
  b: number;
  /** The backends of the bench database (a backend that closed meanwhile is left out). */
  postgres: number;
}

/** CPU per write (ms) of A, B and PostgreSQL over what `run` does, `writes` writes. */
async function cpuPerWrite({ a, b, db }: Run, writes: number, run: () => Promise<void>): Promise<CpuPerWrite> {
  const a0 = cpuMs(a.pid) ?? NaN;
  const b0 = cpuMs(b.pid) ?? NaN;
  const pg0 = await backendCpu(db);
  await run();
  let pg = 0;
  for (const [pid, ms] of await backendCpu(db)) pg += ms - (pg0.get(pid) ?? 0);
  return { a: ((cpuMs(a.pid) ?? NaN) - a0) / writes, b: ((cpuMs(b.pid) ?? NaN) - b0) / writes, postgres: pg / writes };
}

async function insertUsers(db: Db, n: number): Promise<User[]> {
  const { rows } = await db.query<User>(
    `INSERT INTO users (username, password_hash, display_name)
     SELECT 'push_' || i, 'bench$no-login', 'Push User ' || i FROM generate_series(1, $1::int) i
     RETURNING id::text AS id, username`,
    [n],
  );
  return rows.sort((x, y) => Number(x.id) - Number(y.id));
}

/** One direct conversation (no messages yet) per consecutive pair of `users`, as the store writes one. */
async function pairUp(db: Db, users: User[]): Promise<void> {
  const first = users.filter((_, i) => i % 2 === 0 && i + 1 < users.length).map((u) => u.id);
  const second = users.filter((_, i) => i % 2 === 1).map((u) => u.id);
  await db.query(
    `WITH c AS (
       INSERT INTO conversations (type, direct_key, created_by, member_count)
       SELECT 'direct', least(a, b) || ':' || greatest(a, b), a, 2 FROM unnest($1::bigint[], $2::bigint[]) AS p(a, b)
       RETURNING id, direct_key, created_at)
     INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, sort_at)
     SELECT c.id, m.uid, 'member', c.created_at, c.created_at FROM c
     CROSS JOIN LATERAL (VALUES (split_part(c.direct_key, ':', 1)::bigint), (split_part(c.direct_key, ':', 2)::bigint)) AS m(uid)`,
    [first, second],
  );
}

export interface IdleStep {
  from: number;
  to: number;
  connecting: Omit<Connected, 'sockets'>;
  before: Memory;
  after: Memory;
  perConnection: Memory;
  /** B's CPU with only the idle sockets there (heartbeats, lease renewals). */
  idleCpuMsPerSecond: number;
  loadGeneratorRss: number;
  /** Whether A's or B's cache stopped being coherent (a lapsed lease) while the sockets connected. */
  leaseLapsed: { a: boolean; b: boolean };
}

export interface LatencyRun {
  idle: number;
  posts: number;
  messageFromAck: Summary;
  conversationFromAck: Summary;
  messageFromSend: Summary;
  conversationFromSend: Summary;
  post: Summary;
  /** Message frames this process read before the POST's answer. */
  messageBeforeAck: number;
  /** Writes whose frames did not all come within FRAME_TIMEOUT_MS (left out of the figures). */
  missed: number;
  /** Resync frames the reader got ("reload the list"). */
  resyncs: number;
  cpuPerWriteMs: CpuPerWrite;
}

export interface FanoutRun {
  layout: string;
  idle: number;
  posts: number;
  /** The members' unread count in the conversation over the run: from the first post to the last. */
  unread: [number, number];
  /** Writes whose frames did not reach every member within FRAME_TIMEOUT_MS (left out of the figures). */
  missed: number;
  /** Resync frames the members got. */
  resyncs: number;
  lastMessageFromAck: Summary;
  lastConversationFromAck: Summary;
  firstMessageFromAck: Summary;
  lastMessageFromSend: Summary;
  post: Summary;
  cpuPerWriteMs: CpuPerWrite;
}

export interface PushResults {
  idle: IdleStep[];
  latency: LatencyRun[];
  fanout: FanoutRun[];
  /** Frames that reached idle sockets (they are in no conversation anyone writes to). */
  framesOnIdleSockets: number;
  /** Group members' connections retried after a 1001 before `ready`. */
  groupRetries: number;
  openFileLimit: { loadGenerator: number; b: number };
  disconnect?: MassDisconnect;
}

export interface MassDisconnect {
  sockets: number;
  /** This process's time to terminate them all. */
  terminateMs: number;
  /** From the first terminate to B's answer to GET /health (sent after the last). */
  healthAnsweredMs: number;
  /** Whether B's cache stopped being coherent (its lease lapsed) meanwhile or in the seconds after. */
  incoherent: boolean;
  /** B's CPU over those seconds, per socket closed. */
  cpuMsPerSocket: number;
}

/** The two instances, the tokens, and every socket opened (closed at the end). */
interface Run {
  a: GatewayProcess;
  b: GatewayProcess;
  db: Db;
  o: PushBenchOptions;
  clients: WebSocket[];
  /** The idle ones among them. */
  idleSockets: WebSocket[];
}

export async function pushBench(o: PushBenchOptions): Promise<{ results: PushResults; md: string[] }> {
  if (o.idle.length === 0 || o.idle.some((n, i) => !Number.isInteger(n) || n < 1 || n <= (o.idle[i - 1] ?? 0))) {
    throw new Error(`--push-idle: ascending positive integers, got ${o.idle.join(',')}`);
  }
  const maxIdle = o.idle.at(-1)!;
  // Each socket is a descriptor here and one in B; both inherit the shell's `ulimit -n`.
  const limits = { loadGenerator: openFileLimit('self'), b: 0 };
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

    const env = { DATABASE_URL: database.url, REDIS_URL: o.redis.url, JWT_SECRET: o.jwtSecret, CACHE_NAMESPACE: 'cgpush' };
    for (let i = 0; i < 2; i++) started.push(await o.startInstance(env, ['--expose-gc']));
    const [a, b] = started as [GatewayProcess, GatewayProcess];
    limits.b = openFileLimit(b.pid!);
    const run: Run = { a, b, db: database.db, o, clients, idleSockets: [] };

    const direct = await a.api.post(LIST, o.tokenFor(writer), { type: 'direct', memberIds: [reader.id] });
    if (direct.status !== 201) throw new Error(`create direct: ${direct.status} ${direct.text}`);
    // Two groups of the same members: the second starts with nothing unread after the first has more.
    const groups: string[] = [];
    for (const title of ['Push fan-out 1', 'Push fan-out 2']) {
      const made = await a.api.post(LIST, o.tokenFor(group[0]!), { type: 'group', title, memberIds: group.slice(1).map((u) => u.id) });
      if (made.status !== 201) throw new Error(`create group: ${made.status} ${made.text}`);
      groups.push(made.body.data.id);
    }
    const [first, second] = groups as [string, string];

    const results: PushResults = { idle: [], latency: [], fanout: [], framesOnIdleSockets: 0, groupRetries: 0, openFileLimit: limits };
    const countIdleFrame = () => void results.framesOnIdleSockets++;
    const latency = await latencyProbe(run, writer, reader, direct.body.data.id);
    let connected = 0;
    for (const n of o.idle) {
      results.idle.push(await idleStep(run, idleUsers.slice(connected, n), connected, countIdleFrame));
      connected = n;
      results.latency.push(await latency(n));
    }
    // Members who never read: while a member's state (loaded when they connected) is within the 50
    // messages a conversation's cached state keeps, their unread counts come from memory; past that
    // the items pushed to them need a count in SQL each. Measured on both sides of that line.
    const fanout = await fanoutProbe(run, group);
    const allOnB = `${FANOUT_MEMBERS} on B`;
    const split = `${FANOUT_MEMBERS / 2} on A, ${FANOUT_MEMBERS / 2} on B`;
    results.fanout.push(await fanout.measure(allOnB, connected, first));
    o.progress.update('push: fan-out, more unread', 0);
    await fanout.advance(first, BEHIND - fanout.posted(first));
    results.fanout.push(await fanout.measure(allOnB, connected, first));
    await fanout.moveHalfToA();
    results.fanout.push(await fanout.measure(split, connected, second));
    results.fanout.push(await fanout.measure(split, connected, first));
    results.groupRetries = fanout.retries();
    results.disconnect = await massDisconnect(run);
    return { results, md: markdown(results) };
  } finally {
    o.progress.update('push: closing', 0);
    for (const c of clients) c.terminate();
    for (const i of started) await i.stop();
    await database.drop();
  }
}

/** Connects `users` to B (from `from` connected to `from + users.length`): time, CPU, memory. */
async function idleStep({ a, b, o, clients, idleSockets }: Run, users: User[], from: number, onFrame: () => void): Promise<IdleStep> {
  const to = from + users.length;
  const before = await memoryOf(b);
  const label = `push: connecting ${from.toLocaleString('en-US')} → ${to.toLocaleString('en-US')}`;
  const watch = watchCoherence([a, b]);
  const { sockets, ...connecting } = await connectAll(b, users.map(o.tokenFor), CONNECTING, onFrame, (done) => o.progress.update(label, done, users.length));
  clients.push(...sockets);
  idleSockets.push(...sockets);
  await sleep(500); // what the last connections started (member states, journal reads) is done
  const [lapsedA, lapsedB] = await watch.stop();
  await untilCoherent([a, b], COHERENT_TIMEOUT_MS);
  const idleCpu0 = cpuMs(b.pid) ?? NaN;
  await sleep(IDLE_SECONDS * 1000);
  const idleCpuMsPerSecond = ((cpuMs(b.pid) ?? NaN) - idleCpu0) / IDLE_SECONDS;
  const after = await memoryOf(b);
  const per = (k: keyof Memory) => (after[k] - before[k]) / users.length;
  return {
    from,
    to,
    connecting,
    before,
    after,
    perConnection: { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') },
    idleCpuMsPerSecond,
    loadGeneratorRss: process.memoryUsage().rss,
    leaseLapsed: { a: lapsedA!, b: lapsedB! },
  };
}

/** The reader on B; each call: POSTS messages by the writer on A, one after the other. */
async function latencyProbe(run: Run, writer: User, reader: User, conversationId: string): Promise<(idle: number) => Promise<LatencyRun>> {
  const { a, b, o, clients } = run;
  const arrivals = new Arrivals(FRAME_TIMEOUT_MS);
  // First arrival of each frame kind, by message id: a frame may come before the POST's answer.
  const seen = new Map<string, { message?: number; conversation?: number }>();
  let resyncs = 0;
  const { socket } = await connectRetrying(b, o.tokenFor(reader), (data, at) => {
    const f = JSON.parse(String(data)) as { type: string; messageId?: string; item?: { lastMessage?: { id: string } | null } };
    if (f.type === 'resync') resyncs++;
    const id = f.type === 'message' ? f.messageId : f.type === 'conversation' ? f.item?.lastMessage?.id : undefined;
    if (id === undefined) return;
    const s = seen.get(id) ?? {};
    if (f.type === 'message') s.message ??= at;
    else s.conversation ??= at;
    seen.set(id, s);
    arrivals.notify();
  });
  clients.push(socket);
  const token = o.tokenFor(writer);
  return async (idle) => {
    const fromAck = { message: [] as number[], conversation: [] as number[] };
    const fromSend = { message: [] as number[], conversation: [] as number[] };
    const posts: number[] = [];
    let messageBeforeAck = 0;
    let missed = 0;
    const resyncs0 = resyncs;
    await untilCoherent([a, b], COHERENT_TIMEOUT_MS);
    const cpu = await cpuPerWrite(run, POSTS, async () => {
      for (let i = 0; i < POSTS; i++) {
        if (i % 20 === 0) o.progress.update(`push: latency with ${idle.toLocaleString('en-US')} idle`, i, POSTS);
        const r = await a.api.post(`${LIST}/${conversationId}/messages`, token, { content: `push ${idle} ${i}` });
        if (r.status !== 201) throw new Error(`POST message: ${r.status} ${r.text}`);
        const id: string = r.body.data.id;
        const came = await arrivals.until(() => seen.get(id)?.message !== undefined && seen.get(id)?.conversation !== undefined);
        const { message, conversation } = seen.get(id) ?? {};
        seen.delete(id);
        if (!came || message === undefined || conversation === undefined) {
          if (++missed > MAX_MISSED) throw new Error(`latency: the frames of ${missed} writes did not come within ${FRAME_TIMEOUT_MS} ms`);
          continue;
        }
        fromAck.message.push(message - r.doneAt);
        fromAck.conversation.push(conversation - r.doneAt);
        fromSend.message.push(message - r.sentAt);
        fromSend.conversation.push(conversation - r.sentAt);
        posts.push(r.doneAt - r.sentAt);
        if (message < r.doneAt) messageBeforeAck++;
      }
    });
    return {
      idle,
      posts: POSTS,
      messageFromAck: summarize(fromAck.message),
      conversationFromAck: summarize(fromAck.conversation),
      messageFromSend: summarize(fromSend.message),
      conversationFromSend: summarize(fromSend.conversation),
      post: summarize(posts),
      messageBeforeAck,
      missed,
      resyncs: resyncs - resyncs0,
      cpuPerWriteMs: cpu,
    };
  };
}

/**
 * Every member of the groups connected to B. `measure` posts FANOUT_POSTS messages on A, one after the
 * other, each once every member socket has the frames of the one before. On arrival a frame gets only
 * a prefix test (the load generator's own work would count in "the last socket"); its message id is
 * checked after.
 */
async function fanoutProbe(run: Run, group: User[]) {
  const { a, b, o, clients } = run;
  const n = group.length;
  const round = {
    message: new Float64Array(n),
    conversation: new Float64Array(n),
    frames: [] as Buffer[],
    messages: 0,
    conversations: 0,
    resyncs: 0,
    reset() {
      this.message.fill(NaN);
      this.conversation.fill(NaN);
      this.frames = [];
      this.messages = this.conversations = 0;
    },
  };
  round.reset();
  const arrivals = new Arrivals(FRAME_TIMEOUT_MS);
  const onFrame = (i: number, data: Buffer, at: number) => {
    if (startsWith(data, MESSAGE_PREFIX) && Number.isNaN(round.message[i]!)) {
      round.message[i] = at;
      round.messages++;
    } else if (startsWith(data, CONVERSATION_PREFIX) && Number.isNaN(round.conversation[i]!)) {
      round.conversation[i] = at;
      round.conversations++;
    } else {
      if (startsWith(data, RESYNC_PREFIX)) round.resyncs++;
      return;
    }
    round.frames.push(data);
    if (round.messages === n && round.conversations === n) arrivals.notify();
  };
  const tokens = group.map(o.tokenFor);
  const report = (done: number) => o.progress.update('push: connecting the group', done, n);
  const onB = await connectAll(b, tokens, CONNECTING, onFrame, report);
  clients.push(...onB.sockets);
  let retries = onB.retries;
  const posted = new Map<string, number>();

  /** One post by the first member on A, and whether every member got both its frames in time. */
  const post = async (conversationId: string) => {
    round.reset();
    const count = (posted.get(conversationId) ?? 0) + 1;
    posted.set(conversationId, count);
    const r = await a.api.post(`${LIST}/${conversationId}/messages`, tokens[0], { content: `fan-out ${count}` });
    if (r.status !== 201) throw new Error(`POST message: ${r.status} ${r.text}`);
    const id: string = r.body.data.id;
    const complete = await arrivals.until(() => round.messages === n && round.conversations === n);
    // A frame of another write (one whose frames came late) takes the place of this one's: not counted.
    const ours = round.frames.every((f) => {
      const frame = JSON.parse(String(f)) as { messageId?: string; item?: { lastMessage?: { id: string } } };
      return (frame.messageId ?? frame.item?.lastMessage?.id) === id;
    });
    return { r, came: complete && ours };
  };

  return {
    retries: () => retries,
    /** Messages so far in the conversation: as many as its members (who never read) have unread. */
    posted: (conversationId: string) => posted.get(conversationId) ?? 0,
    /** `k` posts, not measured. */
    async advance(conversationId: string, k: number): Promise<void> {
      for (let i = 0; i < k; i++) await post(conversationId);
    },
    /** The second half of the members moves to A: their sockets on B closed, new ones on A. */
    async moveHalfToA(): Promise<void> {
      const half = n / 2;
      for (const s of onB.sockets.slice(half)) s.terminate();
      const onA = await connectAll(a, tokens.slice(half), CONNECTING, (i, data, at) => onFrame(half + i, data, at), report);
      clients.push(...onA.sockets);
      retries += onA.retries;
      await sleep(500); // B has seen the closes
    },
    async measure(layout: string, idle: number, conversationId: string): Promise<FanoutRun> {
      const last = { message: [] as number[], conversation: [] as number[], first: [] as number[], fromSend: [] as number[] };
      const posts: number[] = [];
      const unreadFrom = (posted.get(conversationId) ?? 0) + 1;
      let missed = 0;
      const resyncs0 = round.resyncs;
      await untilCoherent([a, b], COHERENT_TIMEOUT_MS);
      const cpu = await cpuPerWrite(run, FANOUT_POSTS, async () => {
        for (let i = 0; i < FANOUT_POSTS; i++) {
          o.progress.update(`push: fan-out (${layout})`, i, FANOUT_POSTS);
          const { r, came } = await post(conversationId);
          if (!came) {
            if (++missed > MAX_MISSED) throw new Error(`fan-out: the frames of ${missed} writes did not reach every member within ${FRAME_TIMEOUT_MS} ms`);
            continue;
          }
          const lastMessage = Math.max(...round.message);
          last.message.push(lastMessage - r.doneAt);
          last.conversation.push(Math.max(...round.conversation) - r.doneAt);
          last.first.push(Math.min(...round.message) - r.doneAt);
          last.fromSend.push(lastMessage - r.sentAt);
          posts.push(r.doneAt - r.sentAt);
        }
      });
      return {
        layout,
        idle,
        posts: FANOUT_POSTS,
        unread: [unreadFrom, unreadFrom + FANOUT_POSTS - 1],
        missed,
        resyncs: round.resyncs - resyncs0,
        lastMessageFromAck: summarize(last.message),
        lastConversationFromAck: summarize(last.conversation),
        firstMessageFromAck: summarize(last.first),
        lastMessageFromSend: summarize(last.fromSend),
        post: summarize(posts),
        cpuPerWriteMs: cpu,
      };
    },
  };
}

/**
 * Every idle socket closed at once (a network blip, a proxy restarted): how long B's event loop is
 * busy with the closes (its answer to GET /health), and whether its lease lapsed meanwhile.
 */
async function massDisconnect({ b, o, idleSockets }: Run): Promise<MassDisconnect> {
  o.progress.update(`push: ${idleSockets.length.toLocaleString('en-US')} sockets closed at once`, 0);
  const watch = watchCoherence([b]);
  await sleep(200); // the watch has B's counters from before
  const cpu0 = cpuMs(b.pid) ?? NaN;
  const t0 = performance.now();
  for (const s of idleSockets) s.terminate();
  const terminateMs = performance.now() - t0;
  const health = await b.api.get('/health');
  if (health.status !== 200) throw new Error(`B's /health after the disconnect: ${health.status}`);
  const healthAnsweredMs = health.doneAt - t0;
  await sleep(DISCONNECT_WATCH_MS);
  const [incoherent] = await watch.stop();
  return { sockets: idleSockets.length, terminateMs, healthAnsweredMs, incoherent: incoherent!, cpuMsPerSocket: ((cpuMs(b.pid) ?? NaN) - cpu0) / idleSockets.length };
}

function markdown(r: PushResults): string[] {
  const kb = (x: number) => round(x / 1024);
  const mb = (x: number) => round(x / 1048576);
  const pair = (s: Summary) => `${round(s.p50)} / ${round(s.p99)}`;
  const count = (x: number) => x.toLocaleString('en-US');
  const lapsed = (l: { a: boolean; b: boolean }) => (l.a || l.b ? `**${[l.a ? 'A' : '', l.b ? 'B' : ''].filter(Boolean).join(', ')}**` : 'no');
  const cpu = (c: CpuPerWrite) => `${round(c.a)} / ${round(c.b)} / ${round(c.postgres)}`;
  return [
    '### 6. Live updates: GET /api/v1/stream, writes on A, sockets on B (two gateway processes, one PostgreSQL, one Redis; this process is the client)',
    `Idle connections on B (one user each, each in one direct conversation; ${CONNECTING} upgrades in flight; memory after a full GC in B):`,
    '',
    '| connections | lease lapsed while connecting | time (s) | connections/s | open → ready p50 / p99 (ms) | retried (1001 before ready) | B CPU ms per connection | B RSS before → after (MB) | B heap before → after (MB) | per connection: RSS / heap / external (KB) | B CPU ms/s, idle, after | load generator RSS (MB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.idle.map(
      (x) =>
        `| ${count(x.from)} → ${count(x.to)} | ${lapsed(x.leaseLapsed)} | ${round(x.connecting.seconds)} | ${Math.round(x.connecting.perSecond)} | ${pair(x.connecting.latency)} | ${x.connecting.retries} | ${round(x.connecting.cpuMs)} | ${mb(x.before.rss)} → ${mb(x.after.rss)} | ${mb(x.before.heapUsed)} → ${mb(x.after.heapUsed)} | ${kb(x.perConnection.rss)} / ${kb(x.perConnection.heapUsed)} / ${kb(x.perConnection.external)} | ${round(x.idleCpuMsPerSecond)} | ${mb(x.loadGeneratorRss)} |`,
    ),
    '',
    `Push latency: one direct conversation, the reader on B, ${POSTS} sequential POST messages on A, each once both frames of the one before came (ms; p50 / p99):`,
    '',
    '| idle on B | `message` frame after the 2xx | `conversation` frame after the 2xx | `message` after the POST was sent | `conversation` after sent | POST (2xx) | frames read before the 2xx | writes missed / resync frames | CPU ms per write: A / B / PostgreSQL |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.latency.map(
      (x) =>
        `| ${count(x.idle)} | **${pair(x.messageFromAck)}** | ${pair(x.conversationFromAck)} | ${pair(x.messageFromSend)} | ${pair(x.conversationFromSend)} | ${pair(x.post)} | ${x.messageBeforeAck}/${x.posts} | ${x.missed} / ${x.resyncs} | ${cpu(x.cpuPerWriteMs)} |`,
    ),
    '',
    `Fan-out: a ${FANOUT_MEMBERS}-member group, every member connected, ${FANOUT_POSTS} sequential posts on A by one member (ms after the 2xx; p50 / p99). Members never read: their unread count grows with each post (two groups of the same members, so that one starts at 0 after the other passed ${BEHIND}):`,
    '',
    '| members connected | idle on B | members’ unread count | last socket with the `message` | last with the `conversation` | first with the `message` | last `message` after the POST was sent | POST (2xx) | writes missed / resync frames | CPU ms per write: A / B / PostgreSQL |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.fanout.map(
      (x) =>
        `| ${x.layout} | ${count(x.idle)} | ${x.unread[0]}–${x.unread[1]} | **${pair(x.lastMessageFromAck)}** | ${pair(x.lastConversationFromAck)} | ${pair(x.firstMessageFromAck)} | ${pair(x.lastMessageFromSend)} | ${pair(x.post)} | ${x.missed} / ${x.resyncs} | ${cpu(x.cpuPerWriteMs)} |`,
    ),
    '',
    ...(r.disconnect
      ? [
          `Mass disconnect: ${count(r.disconnect.sockets)} idle sockets terminated at once (${round(r.disconnect.terminateMs)} ms here): B answered GET /health ${round(r.disconnect.healthAnsweredMs)} ms after the first; its lease ${r.disconnect.incoherent ? '**lapsed** (memory not served, clients told to resync)' : 'held'}; B CPU ${round(r.disconnect.cpuMsPerSocket)} ms per socket closed.`,
          '',
        ]
      : []),
    `Times: this process's clock in its socket's 'message' handler and at the end of the POST's body (a negative value is a frame read before the 2xx). The client shares the 2 cores with both gateways, Redis and PostgreSQL. Frames on idle sockets: ${r.framesOnIdleSockets} (expected 0). Group members' connections retried: ${r.groupRetries}. Open-file limit: ${r.openFileLimit.loadGenerator} here, ${r.openFileLimit.b} in B (Node cannot raise its own: \`ulimit -n\` before the run). CPU from /proc (10 ms ticks).`,
    'Reproduce: `npm run bench -- --only push` (steps of idle connections: `--push-idle 1000,10000`).',
    '',
  ];
}
