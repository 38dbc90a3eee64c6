import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** The OpenAPI document is generated from the route schemas: one source for validation, serialisation and docs. */
export async function installOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'chatgate',
        version: '1.0.0',
        description:
          'Chat API gateway. Freshness guarantee: once a write has answered 2xx, every `GET /api/v1/conversations` ' +
          'sent afterwards by an affected user, to any instance, reflects it.',
      },
      // Relative to where the document is served: every instance of the gateway serves the API it describes.
      servers: [{ url: '/', description: 'this gateway' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          // The stream's upgrade, from a browser (which cannot set the header).
          tokenQuery: { type: 'apiKey', in: 'query', name: 'token' },
        },
      },
    },
    // Shared schemas keep their names (`ConversationListItem`, not `def-3`): generated clients use them.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
