import type { FastifyReply } from 'fastify';
import type { ListPage } from '../conversation-list/source.js';

/** Sends JSON that is already encoded (the store builds conversation items in SQL). */
export function sendRawData(reply: FastifyReply, dataJson: string, status = 200): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(`{"success":true,"data":${dataJson}}`);
}

/** True when an If-None-Match header names this ETag (or is `*`). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag || header === '*') return true;
  for (const part of header.split(',')) {
    const t = part.trim();
    if (t === etag || t === `W/${etag}`) return true;
  }
  return false;
}

/** Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined || !header.includes('gzip')) return false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name?.trim().toLowerCase() !== 'gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** The gzipped representation's ETag: another representation, another strong validator. */
function gzipTag(etag: string): string {
  return `${etag.slice(0, -1)}-gz"`;
}

/**
 * The list's bytes as they are, or a 304: no serialisation, no hashing on this path. Gzipped for a
 * client that accepts it, from bytes compressed once per kept page.
 */
export function sendListPage(reply: FastifyReply, page: ListPage, ifNoneMatch: string | undefined, acceptEncoding?: string): FastifyReply {
  const gzip = page.gzip !== undefined && acceptsGzip(acceptEncoding) ? page.gzip : undefined;
  const etag = gzip ? gzipTag(page.etag) : page.etag;
  reply.header('etag', etag).header('cache-control', 'private, no-cache').header('x-cache', page.origin);
  if (page.gzip !== undefined) reply.header('vary', 'accept-encoding');
  if (etagMatches(ifNoneMatch, page.etag) || etagMatches(ifNoneMatch, gzipTag(page.etag))) return reply.status(304).send();
  if (gzip) return reply.type('application/json; charset=utf-8').header('content-encoding', 'gzip').send(gzip());
  return reply.type('application/json; charset=utf-8').send(page.body);
}
