/**
 * `npx tsx bench/cluster-pubsub.ts [--messages N] [--bytes B]`
 *
 * What one bus message costs a Redis Cluster of 3 masters (and a replica each), classic PUBLISH vs
 * sharded SPUBLISH: one subscriber on a channel, N messages published to it through the node that
 * owns the channel's slot (as the engine's BROADCAST does, from the coordination slot's master).
 * Summed over every node: cluster-bus messages sent (CLUSTER INFO cluster_stats_messages_*_sent), network
 * bytes out (INFO stats total_net_output_bytes) and CPU (INFO cpu used_cpu_sys + used_cpu_user).
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisCluster } from '../support/redis-cluster.js';

const { values: a } = parseArgs({ options: { messages: { type: 'string', default: '20000' }, bytes: { type: 'string', default: '300' } } });
const N = Number(a.messages);
const payload = 'x'.repeat(Number(a.bytes));

const info = (text: string) => new Map(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));

async function totals(nodes: Redis[]) {
  let busSent = 0, busPublish = 0, netOut = 0, cpu = 0;
  for (const n of nodes) {
    const ci = info(String(await n.call('CLUSTER', 'INFO')));
    busSent += Number(ci.get('cluster_stats_messages_sent') ?? 0);
    busPublish += Number(ci.get('cluster_stats_messages_publish_sent') ?? 0) + Number(ci.get('cluster_stats_messages_publishshard_sent') ?? 0);
    const st = info(await n.info('stats'));
    netOut += Number(st.get('total_net_output_bytes') ?? 0);
    const c = info(await n.info('cpu'));
    cpu += Number(c.get('used_cpu_sys') ?? 0) + Number(c.get('used_cpu_user') ?? 0);
  }
  return { busSent, busPublish, netOut, cpu };
}

const cluster = await RedisCluster.start({ masters: 3, replicas: 1 });
const nodes = cluster.nodes.map((s) => s.client());
try {
  const rows: string[] = [];
  for (const mode of ['PUBLISH', 'SPUBLISH'] as const) {
    const channel = `bench:{coord}:inbox:${mode}`;
    const owner = await cluster.masterForKey(channel);
    const pub = owner.server.client();
    // The subscriber on another master (PUBLISH) / on the owner (SSUBSCRIBE must be on the shard).
    const subNode = mode === 'PUBLISH' ? (await cluster.topology()).find((n) => n.role === 'master' && n.id !== owner.id)! : owner;
    const sub = subNode.server.client();
    let got = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    sub.on(mode === 'PUBLISH' ? 'message' : 'smessage', () => {
      if (++got === N) done();
    });
    await (mode === 'PUBLISH' ? sub.subscribe(channel) : sub.ssubscribe(channel));
    const before = await totals(nodes);
    const t0 = performance.now();
    for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => pub.call(mode, channel, payload)));
    await all;
    const ms = performance.now() - t0;
    const after = await totals(nodes);
    rows.push(
      `${mode.padEnd(8)} ${N} msgs of ${payload.length} B: ${(ms / 1000).toFixed(2)} s; per message, all 6 nodes: cluster-bus messages ${((after.busSent - before.busSent) / N).toFixed(2)} (publish ones ${((after.busPublish - before.busPublish) / N).toFixed(2)}), net out ${((after.netOut - before.netOut) / N).toFixed(0)} B, CPU ${(((after.cpu - before.cpu) * 1e6) / N).toFixed(1)} µs`,
    );
    sub.disconnect();
    pub.disconnect();
  }
  process.stdout.write(`${rows.join('\n')}\n`);
} finally {
  for (const n of nodes) n.disconnect();
  await cluster.stop();
}
