import type { Config } from '../../src/config.js';
import { harnessConfig, type GatewayEnv } from '../../support/gateway.js';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret';

/** The environment of a test gateway: the harness's quiet defaults, the tests' JWT secret, then `env`. */
export function testEnv(env: GatewayEnv = {}): GatewayEnv {
  return { JWT_SECRET: TEST_JWT_SECRET, ...env };
}

/** A config as the environment would give it, quiet and without rate limits unless a test asks. */
export function testConfig(env: GatewayEnv = {}): Config {
  return harnessConfig(testEnv(env));
}
