import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

/** The shutdown settings (SHUTDOWN_DELAY_MS, SHUTDOWN_GRACE_MS): defaults, values, and refusals. */
describe('config: shutdown', () => {
  it('defaults to no delay and a 10 s grace', () => {
    expect(loadConfig({}).shutdown).toEqual({ delayMs: 0, graceMs: 10_000 });
  });

  it('reads both from the environment', () => {
    expect(loadConfig({ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_GRACE_MS: '30000' }).shutdown).toEqual({ delayMs: 5000, graceMs: 30_000 });
  });

  it.each([
    ['SHUTDOWN_DELAY_MS', '-1'],
    ['SHUTDOWN_DELAY_MS', 'soon'],
    ['SHUTDOWN_GRACE_MS', '0'],
    ['SHUTDOWN_GRACE_MS', '1.5'],
  ])('refuses %s=%s', (key, value) => {
    expect(() => loadConfig({ [key]: value })).toThrow(ConfigError);
  });
});
