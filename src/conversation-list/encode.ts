import { createHash } from 'node:crypto';
import type { ListQuery, Pagination } from '../model/model.js';
import type { ListRows } from '../store/conversation-list.js';
import { encodeCursor } from './cursor.js';

/**
 * The response body, assembled from the item JSON that PostgreSQL built: no object is parsed or
 * re-serialised. Encoded once per miss; a cache hit sends these bytes as they are.
 */
export function encodeListBody(rows: ListRows, q: ListQuery): Buffer {
  const pagination: Pagination = {
    offset: q.offset,
    limit: q.limit,
    total: rows.total,
    hasMore: rows.hasMore,
    nextCursor: rows.last ? encodeCursor(rows.last) : null,
  };
  return Buffer.from(`{"success":true,"data":[${rows.items.join(',')}],"pagination":${JSON.stringify(pagination)}}`);
}

/** A strong ETag of the bytes; computed once per miss, then kept with the cached entry. */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}
