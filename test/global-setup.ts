import 'vitest';
import type { TestProject } from 'vitest/node';
import { createDatabase } from '../support/postgres.js';
import { assertRedisServerAvailable } from '../support/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgTemplate: string;
  }
}

/** One template database per test run, migrated once; dropped when the run ends. */
export default async function setup(project: TestProject) {
  await assertRedisServerAvailable();
  const template = await createDatabase({ prefix: 'chatgate_test', max: 1 });
  // A database is cloned only while nobody is connected to it.
  await template.close();
  project.provide('pgTemplate', template.name);
  return () => template.drop();
}
