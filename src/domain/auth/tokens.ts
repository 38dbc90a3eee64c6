import { createSigner, createVerifier } from 'fast-jwt';
import { unauthorized } from '../../errors.js';

export interface TokenClaims {
  sub: string;
  username: string;
  /** Expiry, seconds since the epoch (set on every token this service signs). */
  exp?: number;
}

export interface TokenService {
  sign(claims: TokenClaims): string;
  /** The claims of a valid token; throws UNAUTHORIZED otherwise (malformed, expired, forged, `alg: none`). */
  verify(token: string): TokenClaims;
}

/**
 * HS256 only: the verifier is pinned to that algorithm, so `alg: none` and any other algorithm are
 * rejected. fast-jwt keeps an LRU of verified tokens (expiry still checked on a cache hit), which
 * keeps authentication off the profile of the cached list's hot path.
 */
export function createTokenService(secret: string, ttlSeconds: number): TokenService {
  const signer = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  const verifier = createVerifier({ key: secret, algorithms: ['HS256'], cache: 10_000, requiredClaims: ['sub'] });
  return {
    sign: (claims) => signer({ sub: claims.sub, username: claims.username }),
    verify(token) {
      let payload: Record<string, unknown>;
      try {
        payload = verifier(token) as Record<string, unknown>;
      } catch {
        throw unauthorized('invalid or expired token');
      }
      if (typeof payload.sub !== 'string' || typeof payload.username !== 'string') {
        throw unauthorized('invalid token');
      }
      return typeof payload.exp === 'number' ? { sub: payload.sub, username: payload.username, exp: payload.exp } : { sub: payload.sub, username: payload.username };
    },
  };
}
