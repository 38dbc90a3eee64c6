import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePorts } from './ports.js';
import { RedisServer } from './redis.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SLOTS = 16384;

/** One node of the cluster as a live node sees it (`CLUSTER NODES`). */
export interface ClusterNode {
  id: string;
  /** `127.0.0.1:<port>`. */
  address: string;
  port: number;
  role: 'master' | 'replica';
  /** A replica's master. */
  masterId: string | undefined;
  /** The slot ranges a master serves, each [first, last]. */
  slots: Array<[number, number]>;
  /** Flagged `fail` or `fail?` by the node asked. */
  failing: boolean;
  /** This harness's process behind the node. */
  server: RedisServer;
}

export interface RedisClusterOptions {
  /** Default 3, the fewest `redis-cli --cluster create` accepts. */
  masters?: number;
  /** Replicas per master: 0 (default) or 1. */
  replicas?: 0 | 1;
  /** `cluster-node-timeout`: how long a node may be unreachable before it is failed over (default 1000). */
  nodeTimeoutMs?: number;
  /** Longest wait for the cluster to form (default 30 s). */
  startTimeoutMs?: number;
}

interface Down {
  id: string;
  slots: Array<[number, number]>;
}

/** Who serves which slots and who replicates whom, in one string comparable between the nodes' views. */
function clusterView(nodes: ClusterNode[]): string {
  const addressOf = new Map(nodes.map((n) => [n.id, n.address]));
  return nodes
    .map((n) => `${n.address} ${n.failing ? 'failing' : n.role} ${n.role === 'replica' ? `of ${addressOf.get(n.masterId ?? '')}` : n.slots.map(([a, b]) => `${a}-${b}`).join(',')}`)
    .sort()
    .join('; ');
}

function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/**
 * A Redis Cluster of our own: masters (and a replica each) on free ports, formed with `redis-cli
 * --cluster create`, in a temporary directory that goes with it. Only these processes are ever
 * signalled. Start fails loudly, with redis-cli's output, when no healthy cluster forms.
 */
export class RedisCluster {
  private readonly down = new Map<RedisServer, Down>();
  private readonly admins = new Map<RedisServer, Redis>();

  private constructor(
    /** Every node, masters and replicas, in the order they were given to redis-cli. */
    readonly nodes: RedisServer[],
    private readonly dir: string,
    /** What `redis-cli --cluster create` printed. */
    readonly createOutput: string,
  ) {}

  static async start(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = opts.masters ?? 3;
    const replicas = opts.replicas ?? 0;
    const nodeTimeoutMs = opts.nodeTimeoutMs ?? 1000;
    const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    if (masters < 3) throw new Error(`a Redis Cluster needs at least 3 masters, not ${masters}`);
    const total = masters * (1 + replicas);
    const dir = await mkdtemp(join(tmpdir(), 'chatgate-redis-cluster-'));
    // The bus port is given, not left at port + 10000: that is past 65535 for many ephemeral ports.
    const ports = await freePorts(2 * total);
    const servers: RedisServer[] = [];
    try {
      const started = await Promise.allSettled(
        Array.from({ length: total }, (_, i) => {
          const port = ports[2 * i]!;
          const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-port', String(ports[2 * i + 1]), '--cluster-node-timeout', String(nodeTimeoutMs)];
          return RedisServer.start({ args, cwd: dir }, port);
        }),
      );
      for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      let output: string;
      try {
        const r = await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => s.address), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: startTimeoutMs });
        output = `${r.stdout}${r.stderr}`;
      } catch (err) {
        const e = err as { message: string; stdout?: string; stderr?: string };
        throw new Error(`redis-cli --cluster create failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
      if (output.includes('[ERR]')) throw new Error(`redis-cli --cluster create reported an error:\n${output}`);
      const cluster = new RedisCluster(servers, dir, output);
      try {
        await cluster.waitUntilHealthy(startTimeoutMs);
      } catch (err) {
        await cluster.stop();
        throw err;
      }
      return cluster;
    } catch (err) {
      await Promise.all(servers.map((s) => s.kill()));
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** `host:port` of every node. */
  get addresses(): string[] {
    return this.nodes.map((s) => s.address);
  }

  /** The seed list of a cluster client: `new Redis.Cluster(cluster.startupNodes)`. */
  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  private live(): RedisServer[] {
    return this.nodes.filter((s) => s.isRunning && !s.isPaused);
  }

  /** A plain client to one node for the harness's own questions, bounded so that polling never hangs. */
  private admin(server: RedisServer): Redis {
    let c = this.admins.get(server);
    if (!c) {
      c = new Redis(server.url, { maxRetriesPerRequest: 0, commandTimeout: 1000, retryStrategy: () => 100 });
      c.on('error', () => undefined); // a node killed or paused on purpose
      this.admins.set(server, c);
    }
    return c;
  }

  private async ask(server: RedisServer, ...args: string[]): Promise<string> {
    return String(await this.admin(server).call(args[0]!, ...args.slice(1)));
  }

  /** The cluster as `asked` (default: the first live node) sees it. */
  async topology(asked: RedisServer | undefined = this.live()[0]): Promise<ClusterNode[]> {
    if (!asked) throw new Error('no node of the cluster is running');
    const text = await this.ask(asked, 'CLUSTER', 'NODES');
    const byPort = new Map(this.nodes.map((s) => [s.port, s]));
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((line) => {
        const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ');
        const address = addr!.split('@')[0]!;
        const port = Number(address.split(':')[1]);
        const server = byPort.get(port);
        if (!server) throw new Error(`the cluster names a node this harness did not start: ${line}`);
        const f = flags!.split(',');
        return {
          id: id!,
          address,
          port,
          role: f.includes('master') ? ('master' as const) : ('replica' as const),
          masterId: master === '-' ? undefined : master,
          // `[slot->-id]` entries are slots in migration, not served.
          slots: slots.filter((s) => !s.startsWith('[')).map((s) => (s.includes('-') ? (s.split('-').map(Number) as [number, number]) : ([Number(s), Number(s)] as [number, number]))),
          failing: f.includes('fail') || f.includes('fail?'),
          server,
        };
      });
  }

  /** The live master serving `key`'s hash slot. */
  async masterForKey(key: string): Promise<ClusterNode> {
    const asked = this.live()[0];
    if (!asked) throw new Error('no node of the cluster is running');
    const slot = Number(await this.ask(asked, 'CLUSTER', 'KEYSLOT', key));
    const owner = (await this.topology()).find((n) => n.role === 'master' && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!owner) throw new Error(`no live master serves slot ${slot} (key ${key})`);
    return owner;
  }

  private async remember(server: RedisServer): Promise<void> {
    const me = (await this.topology()).find((n) => n.server === server);
    if (me) this.down.set(server, { id: me.id, slots: me.slots });
  }

  /** SIGKILL of one node (a master, for a failover). */
  async kill(node: RedisServer | ClusterNode): Promise<void> {
    const server = 'server' in node ? node.server : node;
    await this.remember(server);
    await server.kill();
  }

  /** SIGSTOP of one node: to the others it is unreachable, like a frozen host. */
  async pause(node: RedisServer | ClusterNode): Promise<void> {
    const server = 'server' in node ? node.server : node;
    await this.remember(server);
    server.pause();
  }

  resume(node: RedisServer | ClusterNode): void {
    ('server' in node ? node.server : node).resume();
  }

  /**
   * Waits until the slots of a master killed or paused through `kill`/`pause` are served by another
   * (its promoted replica) and the cluster is healthy again; returns the new master.
   */
  async waitForPromotion(node: RedisServer | ClusterNode, timeoutMs = 20_000): Promise<ClusterNode> {
    const server = 'server' in node ? node.server : node;
    const was = this.down.get(server);
    if (!was) throw new Error(`${server.address} was not killed or paused through the cluster`);
    if (was.slots.length === 0) throw new Error(`${server.address} served no slots: nothing to fail over`);
    const deadline = Date.now() + timeoutMs;
    let state = '';
    for (;;) {
      const problems = await this.problems();
      if (problems.length === 0) {
        const topology = await this.topology();
        const owners = new Set(was.slots.map(([first]) => topology.find((n) => n.role === 'master' && !n.failing && n.slots.some(([a, b]) => first >= a && first <= b))));
        const [owner] = owners;
        if (owners.size === 1 && owner && owner.id !== was.id) return owner;
        state = `slots of ${server.address} served by ${[...owners].map((o) => o?.address ?? 'nobody').join(', ')}`;
      } else {
        state = problems.join('; ');
      }
      if (Date.now() > deadline) throw new Error(`no replica took over from ${server.address} within ${timeoutMs} ms: ${state}`);
      await sleep(100);
    }
  }

  /**
   * A failover as a host crash causes it: SIGKILL of `master`, then the wait until the cluster itself
   * has promoted its replica (no CLUSTER FAILOVER: the replicas notice within cluster-node-timeout and
   * elect one). Returns the new master and how long the slots were unserved.
   */
  async failover(master: RedisServer | ClusterNode, timeoutMs = 20_000): Promise<{ promoted: ClusterNode; ms: number }> {
    const started = performance.now();
    await this.kill(master);
    const promoted = await this.waitForPromotion(master, timeoutMs);
    return { promoted, ms: Math.round(performance.now() - started) };
  }

  /** The live masters, with how many keys each holds (DBSIZE), most keys first. */
  async mastersByKeys(): Promise<Array<{ node: ClusterNode; keys: number }>> {
    const masters = (await this.topology()).filter((n) => n.role === 'master' && !n.failing && n.server.isRunning);
    const sized = await Promise.all(masters.map(async (node) => ({ node, keys: Number(await this.ask(node.server, 'DBSIZE')) })));
    return sized.sort((a, b) => b.keys - a.keys);
  }

  /**
   * Moves the slot of `key` to master `to` as a resharding does (IMPORTING/MIGRATING, MIGRATE of its
   * keys, SETSLOT NODE on every master), without telling any client: their slot maps are stale
   * until a MOVED reply corrects them.
   */
  async moveSlotOf(key: string, to: ClusterNode): Promise<{ slot: number; from: ClusterNode }> {
    const from = await this.masterForKey(key);
    if (from.id === to.id) throw new Error(`${key} is already on ${to.address}`);
    const slot = Number(await this.ask(from.server, 'CLUSTER', 'KEYSLOT', key));
    await this.ask(to.server, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id);
    await this.ask(from.server, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id);
    for (;;) {
      const keys = (await this.admin(from.server).call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[];
      if (keys.length === 0) break;
      await this.admin(from.server).call('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'KEYS', ...keys);
    }
    const masters = (await this.topology()).filter((n) => n.role === 'master' && !n.failing && n.server.isRunning);
    // The new owner first, then the old one, then the others (the order redis-cli uses).
    for (const m of [to, from, ...masters.filter((n) => n.id !== to.id && n.id !== from.id)]) await this.ask(m.server, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id);
    return { slot, from };
  }

  /** What keeps the cluster from being healthy, as every live node sees it; empty when healthy. */
  private async problems(): Promise<string[]> {
    const out: string[] = [];
    const views = new Map<RedisServer, string>();
    for (const s of this.live()) {
      try {
        const info = parseInfo(await this.ask(s, 'CLUSTER', 'INFO'));
        if (info.get('cluster_state') !== 'ok') out.push(`${s.address}: cluster_state ${info.get('cluster_state')}`);
        if (info.get('cluster_slots_ok') !== String(SLOTS)) out.push(`${s.address}: ${info.get('cluster_slots_ok')} of ${SLOTS} slots ok`);
        if (Number(info.get('cluster_known_nodes')) < this.nodes.length) out.push(`${s.address}: knows ${info.get('cluster_known_nodes')} of ${this.nodes.length} nodes`);
        const repl = parseInfo(await this.ask(s, 'INFO', 'replication'));
        if (repl.get('role') === 'slave' && repl.get('master_link_status') !== 'up') out.push(`${s.address}: replica not in sync with its master`);
        views.set(s, clusterView(await this.topology(s)));
      } catch (err) {
        out.push(`${s.address}: ${String(err)}`);
      }
    }
    // Every node must agree who serves what and who replicates whom (a master back from a pause is a
    // master to some and a replica to others until the news has reached them all).
    if (new Set(views.values()).size > 1) out.push(`the nodes disagree about the cluster: ${[...views].map(([s, v]) => `${s.address} sees ${v}`).join(' / ')}`);
    return out;
  }

  /** Every live node says cluster_state:ok with all slots served, they agree who serves them and who replicates whom, and every replica is in sync. */
  async waitUntilHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const problems = await this.problems();
      if (problems.length === 0) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy after ${timeoutMs} ms: ${problems.join('; ')}\nredis-cli said:\n${this.createOutput}`);
      await sleep(100);
    }
  }

  /** Kills every node this harness started and removes their directory. */
  async stop(): Promise<void> {
    for (const c of this.admins.values()) c.disconnect();
    this.admins.clear();
    await Promise.all(this.nodes.map((s) => s.kill()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
