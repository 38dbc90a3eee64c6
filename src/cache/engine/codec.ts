import type { CacheEntry } from './types.js';

/**
 * L2 entry layout (encoded here, stored as is by the `fill` Lua script after its compare-and-set):
 *
 *   0  u8  'C' (0x43)   magic
 *   1  u8  'G' (0x47)   magic
 *   2  u8  version (1)
 *   3  u8  reserved (0)
 *   4  f64 BE  gen of the group the entry was filled under
 *  12  f64 BE  global epoch (bumped by clear()) the entry was filled under
 *  20  f64 BE  storedAt, Redis TIME in ms
 *  28  u32 BE  byte length of meta
 *  32  meta (utf8), then value (raw bytes, never parsed)
 *
 * Doubles: integers up to 2^53 are exact, and a Lua script could read them with struct.unpack('d').
 * gen and epoch are not needed to read an entry (see lua.ts); they make an entry self-describing for
 * tools and post-mortems at the cost of 16 bytes.
 */
export const MAGIC0 = 0x43;
export const MAGIC1 = 0x47;
export const VERSION = 1;
export const HEADER_BYTES = 32;

export interface DecodedEntry extends CacheEntry {
  readonly gen: number;
  readonly epoch: number;
}

/** Returns undefined for anything that is not a well-formed entry of this version (a miss, not a crash). */
export function decodeEntry(buf: Buffer): DecodedEntry | undefined {
  if (buf.length < HEADER_BYTES) return undefined;
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1 || buf[2] !== VERSION) return undefined;
  const gen = buf.readDoubleBE(4);
  const epoch = buf.readDoubleBE(12);
  const storedAt = buf.readDoubleBE(20);
  const metaLen = buf.readUInt32BE(28);
  if (!Number.isSafeInteger(gen) || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(storedAt)) return undefined;
  if (HEADER_BYTES + metaLen > buf.length) return undefined;
  const meta = buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + metaLen);
  // subarray: the value shares the reply's memory, no copy.
  const value = buf.subarray(HEADER_BYTES + metaLen);
  return { gen, epoch, storedAt, meta, value };
}

/** Header + meta + value in one Buffer (one copy of the value; it then goes to Redis untouched). */
export function encodeEntry(gen: number, epoch: number, storedAt: number, meta: string, value: Buffer): Buffer {
  const metaBuf = Buffer.from(meta, 'utf8');
  const head = Buffer.alloc(HEADER_BYTES);
  head[0] = MAGIC0;
  head[1] = MAGIC1;
  head[2] = VERSION;
  head.writeDoubleBE(gen, 4);
  head.writeDoubleBE(epoch, 12);
  head.writeDoubleBE(storedAt, 20);
  head.writeUInt32BE(metaBuf.length, 28);
  return Buffer.concat([head, metaBuf, value]);
}
