import type { Prng } from '../../../support/prng.js';
import type { RunningGateway } from '../../helpers/gateway.js';
import { activeMembers, type PropertyUser, type World } from './world.js';

/**
 * One list read, compared byte for byte: the oracle (cache off: the SQL list) against each caching
 * instance, same user, same query, after the same acknowledged write.
 */

export interface RawList {
  status: number;
  body: Buffer;
  etag: string | null;
  xCache: string | null;
}

/** The raw bytes of GET /api/v1/conversations?query (no compression: the bytes are what is compared). */
export async function getList(instance: RunningGateway, token: string, query: string, gzip = false): Promise<RawList> {
  const res = await fetch(`${instance.url}/api/v1/conversations${query ? `?${query}` : ''}`, {
    headers: { authorization: `Bearer ${token}`, 'accept-encoding': gzip ? 'gzip' : 'identity' },
  });
  // fetch undoes the gzip: with it, `body` is the decompressed bytes, which must equal the plain ones.
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), etag: res.headers.get('etag'), xCache: res.headers.get('x-cache') };
}

export function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** The bytes around `at`, as a JSON string literal (so that control characters are visible). */
function around(buf: Buffer, at: number, width = 90): string {
  const from = Math.max(0, at - width);
  const text = buf.subarray(from, Math.min(buf.length, at + width)).toString('utf8');
  return `${from > 0 ? '…' : ''}${JSON.stringify(text)}${at + width < buf.length ? '…' : ''}`;
}

export function describeDifference(oracle: Buffer, cached: Buffer): string {
  const at = firstDifference(oracle, cached);
  return [
    `first difference at byte ${at} (oracle ${oracle.length} bytes, cached ${cached.length} bytes)`,
    `  oracle: ${around(oracle, at)}`,
    `  cached: ${around(cached, at)}`,
  ].join('\n');
}

/** Where a mismatch happened: enough to reproduce it. */
export interface CheckPoint {
  seed: number | string;
  writeIndex: number;
  write: string;
}

export type Variant = 'default' | 'limit=1' | 'limit=3' | 'limit=50' | 'offset' | 'type' | 'withUserId' | 'cursor' | 'old-cursor';
export const VARIANTS: readonly Variant[] = ['default', 'limit=1', 'limit=3', 'limit=50', 'offset', 'type', 'withUserId', 'cursor', 'old-cursor'];

export class ListComparer {
  /** X-Cache of every compared cached read. */
  readonly origins = new Map<string, number>();
  readonly variantsRun = new Map<Variant, number>();
  comparisons = 0;
  /** A cursor each user was given by an earlier read: after later writes it points between items, or at a moved one. */
  private readonly oldCursors = new Map<string, string>();

  constructor(
    private readonly cached: readonly RunningGateway[],
    private readonly oracle: RunningGateway,
    private readonly reproduce: string,
  ) {}

  /** Compares one query's answer on every caching instance with the oracle's; returns the oracle's body. */
  async compare(at: CheckPoint, user: PropertyUser, query: string, opts: { gzip?: boolean } = {}): Promise<Buffer> {
    const truth = await getList(this.oracle, user.token, query);
    const where = (name: string) =>
      `seed ${at.seed}, write #${at.writeIndex} [${at.write}], user ${user.username}(${user.id}), instance ${name}, GET /api/v1/conversations${query ? `?${query}` : ''}`;
    if (truth.status !== 200) throw new Error(`${where('oracle')}: status ${truth.status}: ${truth.body.toString('utf8')}\n${this.reproduce}`);
    if (truth.xCache !== 'BYPASS') throw new Error(`${where('oracle')}: X-Cache ${truth.xCache}, expected BYPASS`);
    const answers = await Promise.all(this.cached.map((instance) => getList(instance, user.token, query)));
    answers.forEach((got, i) => {
      const name = `cached #${i}`;
      this.comparisons++;
      this.origins.set(got.xCache ?? 'none', (this.origins.get(got.xCache ?? 'none') ?? 0) + 1);
      if (got.status !== 200) throw new Error(`${where(name)}: status ${got.status}: ${got.body.toString('utf8')}\n${this.reproduce}`);
      if (!got.body.equals(truth.body)) {
        throw new Error(`${where(name)} (X-Cache ${got.xCache}): body differs from the oracle's\n${describeDifference(truth.body, got.body)}\n${this.reproduce}`);
      }
      if (got.etag !== truth.etag) throw new Error(`${where(name)}: ETag ${got.etag} but the oracle's is ${truth.etag} (equal bodies)\n${this.reproduce}`);
    });
    if (opts.gzip) {
      const i = user.id.length % this.cached.length;
      const zipped = await getList(this.cached[i]!, user.token, query, true);
      if (!zipped.body.equals(truth.body)) {
        throw new Error(`${where(`cached #${i}, gzip`)}: decompressed body differs\n${describeDifference(truth.body, zipped.body)}\n${this.reproduce}`);
      }
      const gzTag = truth.etag ? `${truth.etag.slice(0, -1)}-gz"` : null;
      if (zipped.etag !== gzTag && zipped.etag !== truth.etag) throw new Error(`${where(`cached #${i}, gzip`)}: ETag ${zipped.etag}, oracle ${truth.etag}`);
    }
    return truth.body;
  }

  /**
   * The default page and `count` other variants drawn from `rng`: limits, an offset, a type, a
   * co-member as withUserId, and cursor pages (before = the nextCursor of a limit=2 page, two deep).
   */
  async check(at: CheckPoint, world: World, user: PropertyUser, rng: Prng, count: number): Promise<Buffer> {
    const first = await this.compare(at, user, '', { gzip: true });
    this.count('default');
    for (const v of rng.sample(VARIANTS.slice(1), count)) {
      if (v === 'old-cursor' && !this.oldCursors.has(user.id)) continue;
      this.count(v);
      await this.variant(at, world, user, rng, v);
    }
    return first;
  }

  private count(v: Variant): void {
    this.variantsRun.set(v, (this.variantsRun.get(v) ?? 0) + 1);
  }

  private async variant(at: CheckPoint, world: World, user: PropertyUser, rng: Prng, v: Variant): Promise<void> {
    const mine = world.activeConversations(user.id);
    const type = () => rng.pick(['direct', 'group', 'public'] as const);
    const coMember = () => {
      const co = new Set<string>();
      for (const c of mine) for (const m of activeMembers(c)) if (m.userId !== user.id) co.add(m.userId);
      // Mostly a co-member; sometimes oneself, anyone, or an id no user has (an empty list).
      if (rng.bool(0.8) && co.size > 0) return rng.pick([...co]);
      return rng.pick([user.id, rng.pick(world.users).id, '999999999']);
    };
    switch (v) {
      case 'default':
      case 'limit=1':
      case 'limit=3':
      case 'limit=50':
        await this.compare(at, user, v === 'default' ? '' : v);
        return;
      case 'offset': {
        // Into the list, to its very end, or past it.
        const offset = rng.int(1, mine.length + 1);
        await this.compare(at, user, rng.bool(0.5) ? `offset=${offset}` : `limit=${rng.int(1, 4)}&offset=${offset}`);
        return;
      }
      case 'type':
        await this.compare(at, user, rng.bool(0.7) ? `type=${type()}` : `type=${type()}&limit=2&offset=${rng.int(0, 2)}`);
        return;
      case 'withUserId': {
        const extra = rng.pick(['', '', '&limit=1', `&type=${type()}`, '&offset=1']);
        await this.compare(at, user, `withUserId=${coMember()}${extra}`);
        return;
      }
      case 'old-cursor': {
        const cursor = encodeURIComponent(this.oldCursors.get(user.id)!);
        await this.compare(at, user, `limit=${rng.int(1, 3)}&before=${cursor}${rng.bool(0.3) ? `&type=${type()}` : ''}`);
        return;
      }
      case 'cursor': {
        const filter = rng.pick(['', '', '', `&type=${type()}`, `&withUserId=${coMember()}`]);
        let query = `limit=2${filter}`;
        for (let depth = 0; depth < 3; depth++) {
          const body = await this.compare(at, user, query);
          const cursor = (JSON.parse(body.toString('utf8')) as { pagination: { nextCursor: string | null } }).pagination.nextCursor;
          if (cursor === null) return;
          this.oldCursors.set(user.id, cursor);
          query = `limit=2${filter}&before=${encodeURIComponent(cursor)}`;
        }
        return;
      }
    }
  }
}
