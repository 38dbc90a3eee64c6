import { validation } from '../errors.js';
import type { ListCursor } from '../model/model.js';

/** The opaque `nextCursor`: base64url of `[sortAt, id]`. */
export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.sortAt, c.id])).toString('base64url');
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID = /^[1-9][0-9]{0,18}$/;
const MAX_BIGINT = 9223372036854775807n;

function isInstant(s: string): boolean {
  const t = Date.parse(s);
  return Number.isFinite(t) && new Date(t).toISOString() === s;
}

export function decodeCursor(s: string): ListCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw validation('before is not a valid cursor');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    !ISO.test(parsed[0]) ||
    !ID.test(parsed[1]) ||
    // A real instant (no month 13), and an id a bigint can hold: the cached list compares them as
    // they are, and the database would refuse them.
    !isInstant(parsed[0]) ||
    BigInt(parsed[1]) > MAX_BIGINT
  ) {
    throw validation('before is not a valid cursor');
  }
  return { sortAt: parsed[0], id: parsed[1] };
}
