import { gzipSync } from 'node:zlib';
import type { ListOrigin, ListPage } from './source.js';

/**
 * A composed page as it is kept: the exact bytes of the response and their ETag, and the same bytes
 * gzipped, made once on the first request that accepts gzip (and then sent as they are to every
 * later one: no compression work per hit).
 */
export class CachedPage {
  private gz: Buffer | undefined;

  constructor(
    readonly body: Buffer,
    readonly etag: string,
  ) {}

  /** Charged to the page budget: the body, and room for its gzipped copy (about a fifth of it for list JSON). */
  get bytes(): number {
    return Math.ceil(this.body.length * 1.25);
  }

  /** The page as the route sends it; the hit path's one (HIT-L1) made once. */
  page(origin: ListOrigin): ListPage {
    if (origin === 'HIT-L1') return (this.hit ??= { body: this.body, etag: this.etag, origin, gzip: this.gzipped });
    return { body: this.body, etag: this.etag, origin, gzip: this.gzipped };
  }

  private hit: ListPage | undefined;

  private readonly gzipped = (): Buffer => (this.gz ??= gzipSync(this.body, { level: 6 }));
}
