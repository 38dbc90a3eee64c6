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

/** The list's bytes as they are, or a 304. No serialisation, no hashing on this path. */
export function sendListPage(reply: FastifyReply, page: ListPage, ifNoneMatch: string | undefined): FastifyReply {
  reply.header('etag', page.etag).header('cache-control', 'private, no-cache').header('x-cache', page.origin);
  if (etagMatches(ifNoneMatch, page.etag)) return reply.status(304).send();
  return reply.type('application/json; charset=utf-8').send(page.body);
}
