import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

/** `METHOD /url` of every route that may write (anything but GET, HEAD, OPTIONS), as Fastify registered it. */
export function writeRoutes(app: FastifyInstance): string[] {
  return app.routeTable.filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method)).map((r) => `${r.method} ${r.url}`);
}

/**
 * A suite that must cover every write route: fails when a registered write route is not in `covered`
 * (a new route must add its test), or when `covered` names a route that does not exist.
 */
export function expectEveryWriteRouteCovered(app: FastifyInstance, covered: Iterable<string>): void {
  const writes = writeRoutes(app);
  expect(writes.length).toBeGreaterThan(10);
  const names = new Set(covered);
  expect(writes.filter((w) => !names.has(w))).toEqual([]);
  expect([...names].filter((c) => !writes.includes(c))).toEqual([]);
}
