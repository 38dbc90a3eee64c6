import type { Db } from '../db/index.js';
import type { ListQuery } from '../model/model.js';
import { queryConversationList } from '../store/conversation-list.js';
import { encodeListBody, etagOf } from './encode.js';
import type { ConversationListSource, ListPage } from './source.js';

/** The list straight from PostgreSQL (`X-Cache: BYPASS` when it is used without a cache). */
export class SqlConversationList implements ConversationListSource {
  constructor(private readonly db: Db) {}

  async page(userId: string, query: ListQuery): Promise<ListPage> {
    const body = encodeListBody(await queryConversationList(this.db, userId, query), query);
    return { body, etag: etagOf(body), origin: 'BYPASS' };
  }
}
