import { createHmac } from 'node:crypto';
import type { Prng } from '../../support/prng.js';
import type { World } from './world.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function jwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | undefined, alg = 'sha256'): string {
  const head = `${b64(header)}.${b64(payload)}`;
  if (key === undefined) return `${head}.`;
  return `${head}.${createHmac(alg, key).update(head).digest('base64url')}`;
}

export interface AuthChoice {
  /** What the header is, for reports. */
  kind: string;
  /** The `authorization` header, or undefined for none. */
  header: string | undefined;
  /**
   * `valid`: accepted as the attacker; `invalid`: must be a 401 on every authenticated route;
   * `odd`: correctly signed but with claims no login would issue (the server may accept it).
   */
  validity: 'valid' | 'invalid' | 'odd';
}

/** An Authorization header: the attacker's own token (in several spellings) or a forged, expired, broken one. */
export function authChoice(rng: Prng, world: World): AuthChoice {
  const t = world.attacker.token;
  const victim = rng.pick(world.victims);
  const now = Math.floor(Date.now() / 1000);
  const claims = (sub: unknown, extra: Record<string, unknown> = {}) => ({ sub, username: victim.username, iat: now, exp: now + 3600, ...extra });
  const s = world.jwtSecret;
  const [h, p, sig] = t.split('.') as [string, string, string];
  return rng.weighted<() => AuthChoice>([
    [60, () => ({ kind: 'attacker', header: `Bearer ${t}`, validity: 'valid' })],
    [3, () => ({ kind: 'attacker lower-case scheme', header: `bearer ${t}`, validity: 'valid' })],
    [2, () => ({ kind: 'attacker padded', header: `Bearer   ${t}  `, validity: 'valid' })],
    [10, () => ({ kind: 'none', header: undefined, validity: 'invalid' })],
    [
      25,
      () =>
        rng.pick<AuthChoice>([
          { kind: 'alg none (victim)', header: `Bearer ${jwt({ alg: 'none', typ: 'JWT' }, claims(victim.id), undefined)}`, validity: 'invalid' },
          { kind: 'alg None (victim)', header: `Bearer ${jwt({ alg: 'None', typ: 'JWT' }, claims(victim.id), undefined)}`, validity: 'invalid' },
          { kind: 'alg none signed', header: `Bearer ${jwt({ alg: 'none' }, claims(victim.id), s)}`, validity: 'invalid' },
          { kind: 'wrong secret (victim)', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, claims(victim.id), 'not-the-secret-not-the-secret')}`, validity: 'invalid' },
          { kind: 'empty secret (victim)', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, claims(victim.id), '')}`, validity: 'invalid' },
          { kind: 'expired', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, claims(world.attacker.id, { iat: now - 7200, exp: now - 3600 }), s)}`, validity: 'invalid' },
          { kind: 'not yet valid', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, claims(world.attacker.id, { nbf: now + 3600 }), s)}`, validity: 'invalid' },
          { kind: 'HS512 with the secret', header: `Bearer ${jwt({ alg: 'HS512', typ: 'JWT' }, claims(victim.id), s, 'sha512')}`, validity: 'invalid' },
          { kind: 'RS256 header, HMAC body', header: `Bearer ${jwt({ alg: 'RS256', typ: 'JWT' }, claims(victim.id), s)}`, validity: 'invalid' },
          { kind: 'kid traversal', header: `Bearer ${jwt({ alg: 'HS256', kid: '../../../../dev/null' }, claims(victim.id), '')}`, validity: 'invalid' },
          { kind: 'jku', header: `Bearer ${jwt({ alg: 'HS256', jku: 'http://127.0.0.1:1/keys' }, claims(victim.id), 'x')}`, validity: 'invalid' },
          { kind: 'payload swapped (victim)', header: `Bearer ${h}.${b64(claims(victim.id))}.${sig}`, validity: 'invalid' },
          { kind: 'signature cut', header: `Bearer ${h}.${p}.${sig.slice(0, -4)}`, validity: 'invalid' },
          // A character in the middle: the last one of a base64url HMAC carries bits the decoder drops.
          { kind: 'signature flipped', header: `Bearer ${h}.${p}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`, validity: 'invalid' },
          { kind: 'no signature', header: `Bearer ${h}.${p}.`, validity: 'invalid' },
          { kind: 'two parts', header: `Bearer ${h}.${p}`, validity: 'invalid' },
          { kind: 'trailing garbage', header: `Bearer ${t}x`, validity: 'invalid' },
          { kind: 'doubled', header: `Bearer ${t}${t}`, validity: 'invalid' },
          { kind: 'token, no scheme', header: t, validity: 'invalid' },
          { kind: 'Basic', header: `Basic ${Buffer.from(`${victim.username}:x`).toString('base64')}`, validity: 'invalid' },
          { kind: 'Token scheme', header: `Token ${t}`, validity: 'invalid' },
          { kind: 'Bearer only', header: 'Bearer', validity: 'invalid' },
          { kind: 'Bearer space', header: 'Bearer ', validity: 'invalid' },
          { kind: 'empty', header: '', validity: 'invalid' },
          { kind: 'null', header: 'Bearer null', validity: 'invalid' },
          { kind: 'undefined', header: 'Bearer undefined', validity: 'invalid' },
          { kind: 'a.b.c', header: 'Bearer a.b.c', validity: 'invalid' },
          { kind: 'dots', header: 'Bearer ..', validity: 'invalid' },
          { kind: 'sql', header: "Bearer ' OR 1=1 --", validity: 'invalid' },
          { kind: 'huge', header: `Bearer ${'A'.repeat(8000)}.${'B'.repeat(4000)}.${'C'.repeat(100)}`, validity: 'invalid' },
          { kind: 'latin1', header: 'Bearer \u00e9\u00ff\u00e0', validity: 'invalid' },
          { kind: 'json', header: `Bearer ${JSON.stringify(claims(victim.id))}`, validity: 'invalid' },
          { kind: 'base64 garbage', header: `Bearer ${Buffer.from(String(rng.u32())).toString('base64')}.${b64('{')}.x`, validity: 'invalid' },
          { kind: 'numeric sub', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, claims(Number(victim.id)), s)}`, validity: 'invalid' },
          { kind: 'no username', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, { sub: world.attacker.id, iat: now, exp: now + 3600 }, s)}`, validity: 'invalid' },
          { kind: 'no sub', header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, { username: victim.username, iat: now, exp: now + 3600 }, s)}`, validity: 'invalid' },
        ]),
    ],
    [
      3,
      () => {
        // Correctly signed, claims that no login issues: whatever the server does, never a 5xx.
        const sub = rng.pick(['abc', '-1', '0', '99999999999999999999', "1' OR '1'='1", '1e3', '999999', '$1', '*']);
        return {
          kind: `odd sub ${JSON.stringify(sub)}`,
          header: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, { sub, username: 'fz-odd', iat: now, exp: now + 3600 }, s)}`,
          validity: 'odd',
        };
      },
    ],
  ])();
}
