import type { Gateways } from './gateways.js';
import type { TimedClient } from './http.js';

interface Slot {
  client: TimedClient;
  /** False from the moment the balancer has seen the instance drain until its replacement is up. */
  routed: boolean;
  /** [from, to] of each stop: from the drain's start until the replacement was up (to: Infinity meanwhile). */
  stops: Array<[number, number]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The load balancer in front of the instances, as the workload sees it: a request meant for an
 * instance that is out of rotation goes to the next one in rotation. An instance leaves the rotation
 * when its /ready stops answering 200 (health checks, as a real balancer would notice a drain), and
 * comes back as its replacement. Requests it still got while stopping may be refused: they are
 * counted apart, never as acknowledged.
 */
export class Balancer {
  private readonly slots: Slot[];

  constructor(private readonly gateways: Gateways) {
    this.slots = gateways.instances.map((i) => ({ client: i.client, routed: true, stops: [] }));
  }

  get size(): number {
    return this.slots.length;
  }

  /** The instance a request meant for `preferred` goes to. */
  route(preferred: number): number {
    for (let d = 0; d < this.slots.length; d++) {
      const i = (preferred + d) % this.slots.length;
      if (this.slots[i]!.routed) return i;
    }
    return preferred;
  }

  client(index: number): TimedClient {
    return this.slots[index]!.client;
  }

  /** Was the instance stopping (drained, closing, or not yet replaced) at some moment of [S, R]? */
  wasStopping(index: number, S: number, R: number): boolean {
    return this.slots[index]!.stops.some(([from, to]) => S <= to && R >= from);
  }

  /**
   * A rolling restart's step: instance `index` shuts down gracefully (drain, SHUTDOWN_DELAY_MS, close)
   * while the load goes on; once its /ready says so it leaves the rotation; a new instance on the same
   * configuration replaces it.
   */
  async restart(index: number): Promise<string> {
    const slot = this.slots[index]!;
    const old = this.gateways.instances[index]!;
    const stop: [number, number] = [performance.now(), Infinity];
    slot.stops.push(stop);
    const closed = old.gw.shutdown();
    let closedAt = 0;
    void closed.then(() => (closedAt = performance.now()), () => undefined);
    for (;;) {
      const r = await old.client.request('GET', '/ready');
      if (r.status !== 200) break;
      await sleep(50);
    }
    slot.routed = false;
    const outAt = performance.now();
    await closed;
    const fresh = await this.gateways.replace(index);
    slot.client = fresh.client;
    slot.routed = true;
    stop[1] = performance.now();
    return `instance ${index}: out of rotation after ${Math.round(outAt - stop[0])} ms, closed after ${Math.round(closedAt - stop[0])} ms, replaced after ${Math.round(stop[1] - stop[0])} ms`;
  }
}
