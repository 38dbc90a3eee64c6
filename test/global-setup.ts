import 'vitest';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/db/index.js';
import { createPostgresDb } from '../src/db/postgres.js';
import { adminQuery, urlFor } from './helpers/postgres.js';
import { assertRedisServerAvailable } from './helpers/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgTemplate: string;
  }
}

/** One template database per test run, migrated once; dropped when the run ends. */
export default async function setup(project: TestProject) {
  await assertRedisServerAvailable();
  const template = `chatgate_test_${Date.now().toString(36)}_${process.pid}`;
  await adminQuery(`CREATE DATABASE "${template}"`);
  const db = createPostgresDb({ connectionString: urlFor(template), max: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  project.provide('pgTemplate', template);
  return async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  };
}
