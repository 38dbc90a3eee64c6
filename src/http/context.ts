import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ConversationListSource } from '../conversation-list/source.js';
import type { TokenService } from '../domain/auth/tokens.js';
import type { ConversationService } from '../domain/conversations.js';
import type { MessageService } from '../domain/messages.js';
import type { UserService } from '../domain/users.js';
import type { Metrics } from '../observability/metrics.js';
import type { Changes } from '../push/changes.js';
import type { Hub } from '../push/hub.js';

/** Cache administration as the admin routes see it (implemented by the conversation-list cache). */
export interface CacheAdmin {
  stats(): Record<string, unknown>;
  clear(): Promise<void>;
}

/** Live updates, as the stream and changes routes see them (src/push). */
export interface PushContext {
  hub: Hub;
  /** Starts following a connected user; resolves to the position their stream starts at. */
  follow(userId: string): Promise<string>;
  changes(userId: string, since: string | undefined, limit: number): Promise<Changes>;
}

/** Everything the HTTP layer needs, built once by the composition root (src/server.ts). */
export interface HttpContext {
  config: Config;
  logger: Logger;
  tokens: TokenService;
  users: UserService;
  conversations: ConversationService;
  messages: MessageService;
  conversationList: ConversationListSource;
  cacheAdmin: CacheAdmin | undefined;
  /** Absent when there is no cache engine (CACHE_ENABLED=false without Redis): no stream then. */
  push: PushContext | undefined;
  /** Whether the database answers (for /ready). */
  dbReady(): Promise<boolean>;
  redisState(): 'up' | 'down' | 'disabled';
  /** 'done', or 'warming' while the background warm-up runs and its bound has not passed. */
  warmupState(): 'done' | 'warming';
  /** True once the instance is shutting down: /ready answers 503 so that load balancers stop sending. */
  draining(): boolean;
  metrics: Metrics;
}
