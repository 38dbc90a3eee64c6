import { loadConfig, type Config } from '../../src/config.js';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret';

/** A config as the environment would give it, quiet and without rate limits unless a test asks. */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    DEMO_SEED: 'false',
    CACHE_WARMUP_USERS: '0',
    ...env,
  });
}
