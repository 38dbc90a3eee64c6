import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { LIMITS } from '../model/limits.js';
import { lazyChildLogger, requestLogFields } from '../observability/logger.js';
import type { HttpContext } from './context.js';
import { adminScope, authenticatedScope, publicScope } from './plugins/auth.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling } from './plugins/errors.js';
import { installJsonBody } from './plugins/json-body.js';
import { installOpenApi } from './plugins/openapi.js';
import { installRateLimit } from './plugins/rate-limit.js';
import { installRequestMetrics } from './plugins/request-metrics.js';
import { installValidators } from './plugins/validation.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { conversationRoutes } from './routes/conversations.js';
import { demoAppRoutes } from './routes/demo-app.js';
import { healthRoutes } from './routes/health.js';
import { memberRoutes } from './routes/members.js';
import { messageRoutes } from './routes/messages.js';
import { metricsRoutes } from './routes/metrics.js';
import { streamRoutes } from './routes/stream.js';
import { userRoutes } from './routes/users.js';
import { ErrorBody } from './schemas/common.js';
import { ConversationListItem } from './schemas/conversations.js';
import { Message } from './schemas/messages.js';
import { User, UserSummary } from './schemas/users.js';

/** Shared schemas, referenced by `$ref` from the routes (and published in the OpenAPI document). */
const SHARED_SCHEMAS = [ErrorBody, UserSummary, User, ConversationListItem, Message];

export interface RouteInfo {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, as `METHOD /url` (tests enumerate the write routes from it). */
    routeTable: RouteInfo[];
  }
}

/** Builds the HTTP app: external plugins, then app plugins, then routes. Does not listen. */
export async function buildHttpApp(ctx: HttpContext): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    // Whichever logger the gateway was given: its request lines go through this serializer.
    loggerInstance: ctx.logger.child({}, { serializers: { req: requestLogFields } }) as FastifyBaseLogger,
    bodyLimit: LIMITS.bodyMaxBytes,
    // Request logs at debug: at info, two log lines per request would cost more than a cache hit.
    logController: new LogController({ disableRequestLogging: !ctx.logger.isLevelEnabled('debug') }),
    childLoggerFactory: lazyChildLogger,
    ajv: { customOptions: { coerceTypes: true } },
    routerOptions: { maxParamLength: 200 },
    // Errors answered before routing, or by the HTTP parser, in the contract's shape too (see errors.ts).
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    http: { requireHostHeader: false },
    // On close, idle keep-alive connections are closed at once (they would hold the shutdown until
    // their timeout); requests already on a connection are served, not answered with Fastify's own 503
    // (not the contract's error shape): the database stays open until the last of them has answered.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
  });
  // While shutting down, every answer closes its connection (also of a request that came before): a
  // keep-alive connection would otherwise hold the close until its timeout, and the client's next
  // request goes through the load balancer to an instance that stays.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (ctx.draining()) void reply.header('connection', 'close');
    return payload;
  });
  app.decorateRequest('auth', undefined);
  const routeTable: RouteInfo[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routeTable.push({ method, url: r.url });
  });
  installRequestMetrics(app, ctx.metrics);
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  installValidators(app, SHARED_SCHEMAS);
  installErrorHandling(app);
  installJsonBody(app);

  await installOpenApi(app);
  await installRateLimit(app, ctx.config.rateLimitPerMinute);

  // Authentication is attached per scope (encapsulated plugin contexts), never per route: a route is
  // authenticated, and documented so, by the scope it is registered in.
  await app.register(async (open) => {
    publicScope(open);
    metricsRoutes(open, ctx.metrics);
    healthRoutes(open, ctx);
    authRoutes(open, ctx);
    await demoAppRoutes(open);
  });
  // Its own scope: the upgrade carries its token where a browser can put it (see the route).
  await app.register(async (live) => streamRoutes(live, ctx));
  await app.register(async (api) => {
    authenticatedScope(api, ctx.tokens);
    userRoutes(api, ctx);
    conversationRoutes(api, ctx);
    memberRoutes(api, ctx);
    messageRoutes(api, ctx);
    await api.register(async (admin) => {
      adminScope(admin, ctx.users);
      adminRoutes(admin, ctx);
    });
  });
  return app;
}
