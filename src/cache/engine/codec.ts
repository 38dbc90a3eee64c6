import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * How a piece's bytes are stored in Redis: one leading byte says how the rest is encoded.
 *   0x00  the codec's bytes as they are
 *   0x01  the codec's bytes, deflated (raw DEFLATE, node:zlib)
 * Compression is decided per value: below `minBytes`, or when deflating does not save a tenth, the bytes
 * go raw (a short JSON does not shrink enough to pay for the inflate on every L2 read).
 * Level 1: on list state (JSON with repeated keys and names) it keeps most of level 6's saving at
 * a fraction of the CPU (README, benchmark "compression").
 */
const RAW = 0x00;
const DEFLATED = 0x01;

export function packValue(bytes: Buffer, minBytes: number): Buffer {
  if (minBytes > 0 && bytes.length >= minBytes) {
    const z = deflateRawSync(bytes, { level: 1, strategy: constants.Z_DEFAULT_STRATEGY });
    if (z.length + 1 < bytes.length * 0.9) return Buffer.concat([Buffer.of(DEFLATED), z]);
  }
  return Buffer.concat([Buffer.of(RAW), bytes]);
}

/** Throws on a leading byte it does not know (the caller treats the piece as missing). */
export function unpackValue(stored: Buffer): Buffer {
  if (stored.length === 0) throw new Error('empty value');
  const tag = stored[0];
  if (tag === RAW) return stored.subarray(1);
  if (tag === DEFLATED) return inflateRawSync(stored.subarray(1));
  throw new Error(`unknown value encoding ${String(tag)}`);
}
