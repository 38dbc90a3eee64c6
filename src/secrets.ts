import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config.js';
import { ConfigError } from './config.js';

/**
 * The JWT secret: JWT_SECRET when set. In embedded mode (no DATABASE_URL) a secret is generated once
 * into DATA_DIR so that `npm start` needs no setup and tokens survive restarts. With a real database
 * it is required: several instances must share it.
 */
export async function resolveJwtSecret(config: Config): Promise<string> {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.databaseUrl) throw new ConfigError('JWT_SECRET is required when DATABASE_URL is set');
  const file = join(config.dataDir, 'jwt-secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(config.dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    await writeFile(file, secret, { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}
