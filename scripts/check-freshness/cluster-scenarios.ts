import type { RedisCluster, RedisClusterOptions } from '../../support/redis-cluster.js';
import type { FaultEvent } from './scenarios.js';

/**
 * The scenarios on a Redis Cluster of the tool's own: the same load with no fault, and with masters
 * killed mid-load (each promoted replica may lack the last writes: replication is asynchronous).
 */
export const CLUSTER_SCENARIOS = ['cluster', 'cluster-failover'] as const;
export type ClusterScenario = (typeof CLUSTER_SCENARIOS)[number];

export function isClusterScenario(s: string): s is ClusterScenario {
  return (CLUSTER_SCENARIOS as readonly string[]).includes(s);
}

/**
 * The cluster a scenario runs on. The node timeout is short so that a failover is over within a few
 * seconds of the load; one replica per master makes every master's death survivable.
 */
export const CLUSTER_SHAPE: RedisClusterOptions = { masters: 3, replicas: 1, nodeTimeoutMs: 1500 };

/**
 * cluster-failover: at 0.3 D the master of the coordination slot (registry, journal, every
 * broadcast) is killed; at 0.6 D the master holding the most keys of the others that still have a
 * replica. Each waits until the cluster itself has promoted the replica, under load.
 */
export function clusterFaultPlan(scenario: ClusterScenario, D: number, cluster: RedisCluster, coordKey: string): FaultEvent[] {
  if (scenario === 'cluster') return [];
  const kill = async (pick: () => Promise<Awaited<ReturnType<RedisCluster['masterForKey']>>>, what: string) => {
    const victim = await pick();
    const { promoted, ms } = await cluster.failover(victim);
    return `${what} ${victim.address} killed; its replica ${promoted.address} promoted after ${ms} ms`;
  };
  return [
    { atMs: 0.3 * D, label: 'SIGKILL of a master', run: () => kill(() => cluster.masterForKey(coordKey), 'coordination slot’s master') },
    {
      atMs: 0.6 * D,
      label: 'SIGKILL of a master',
      run: () =>
        kill(async () => {
          const topology = await cluster.topology();
          const replicated = (await cluster.mastersByKeys()).filter(({ node }) => topology.some((r) => r.masterId === node.id && r.server.isRunning));
          if (replicated.length === 0) throw new Error('no master with a live replica left');
          return replicated[0]!.node;
        }, 'the fullest master'),
    },
  ];
}
