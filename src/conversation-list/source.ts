import type { ListQuery } from '../model/model.js';

export type ListOrigin = 'HIT-L1' | 'HIT-L2' | 'MISS' | 'BYPASS';

/** A finished list response: the exact bytes to send, with their ETag, and where they came from. */
export interface ListPage {
  body: Buffer;
  etag: string;
  origin: ListOrigin;
  /** The body gzipped, computed at most once per kept page (absent: compress on the fly, or not at all). */
  gzip?: () => Buffer;
}

/**
 * Where `GET /api/v1/conversations` gets its answer. Implemented by the SQL source and by the
 * cached source that wraps it (same interface, decorator style).
 */
export interface ConversationListSource {
  page(userId: string, query: ListQuery): Promise<ListPage>;
  /** Synchronous answer from process memory, or undefined (lets the route skip a promise on a hit). */
  peek?(userId: string, query: ListQuery): ListPage | undefined;
}
