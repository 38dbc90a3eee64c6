/**
 * What one instance sends the others through their inboxes. Every message a script publishes starts
 * with `#<seq>:<redis now>;` (the inbox's own count, see remote/scripts.ts and decodeSequenced); the
 * broadcast script then prefixes it with its journal position and a newline; the body is one of:
 *
 *   U<header JSON>\n<value bytes...><note bytes>   a write's new versions
 *        header: { o: origin instance, m: message id, t: stamp, u: [[kind, id, version, length], ...], n: note length }
 *        length -1: the version only (the value was too large to send; receivers keep a floor)
 *   C<JSON { o, m }>                               clear everything
 *   S<JSON { o, m }>                               every live instance has applied message m (see push)
 *
 * A hand-written framing rather than JSON with embedded values: values are already encoded bytes
 * (the codecs' output), and base64 in JSON would cost a third more bytes and an encode per value.
 */
export interface WireUpdate {
  kind: string;
  id: string;
  version: number;
  /** Undefined: the version only. */
  bytes: Buffer | undefined;
}

export type BusMessage =
  | { t: 'U'; origin: string; id: string; position: string; stamp: number; updates: WireUpdate[]; note: Buffer | undefined }
  | { t: 'C'; origin: string; id: string }
  | { t: 'S'; origin: string; id: string };

interface Header {
  o: string;
  m: string;
  /** Redis ms the values were read from the source (the writer's stamp, see publisher.ts). */
  t: number;
  u: Array<[string, string, number, number]>;
  n: number;
}

export function encodeUpdates(origin: string, id: string, stamp: number, updates: readonly WireUpdate[], note: Buffer | undefined): Buffer {
  const header: Header = {
    o: origin,
    m: id,
    t: stamp,
    u: updates.map((u) => [u.kind, u.id, u.version, u.bytes === undefined ? -1 : u.bytes.length]),
    n: note?.length ?? -1,
  };
  const parts: Buffer[] = [Buffer.from(`U${JSON.stringify(header)}\n`)];
  for (const u of updates) if (u.bytes !== undefined) parts.push(u.bytes);
  if (note !== undefined) parts.push(note);
  return Buffer.concat(parts);
}

export function encodeControl(t: 'C' | 'S', origin: string, id: string): Buffer {
  return Buffer.from(`${t}${JSON.stringify({ o: origin, m: id })}`);
}

/** `#<seq>:<redis now>;<rest>`: the inbox's message number, when it was published, and the message. */
export interface Sequenced {
  seq: number;
  redisNow: number;
  rest: Buffer;
}

/** Undefined when `raw` has no well-formed sequence header (an ack, published without one, or junk). */
export function decodeSequenced(raw: Buffer): Sequenced | undefined {
  if (raw[0] !== 0x23 /* # */) return undefined;
  // Digits read in place: this runs for every message an instance receives.
  let i = 1;
  let seq = 0;
  for (; i < raw.length && raw[i]! >= 0x30 && raw[i]! <= 0x39; i++) seq = seq * 10 + raw[i]! - 0x30;
  if (i === 1 || raw[i] !== 0x3a /* : */) return undefined;
  const from = ++i;
  let now = 0;
  for (; i < raw.length && raw[i]! >= 0x30 && raw[i]! <= 0x39; i++) now = now * 10 + raw[i]! - 0x30;
  if (i === from || raw[i] !== 0x3b /* ; */ || !Number.isSafeInteger(seq) || !Number.isSafeInteger(now)) return undefined;
  return { seq, redisNow: now, rest: raw.subarray(i + 1) };
}

/** Another instance's message (with its position prefix); undefined for anything malformed. */
export function decodeBusMessage(raw: Buffer): BusMessage | undefined {
  const nl = raw.indexOf(0x0a);
  if (nl < 0) return undefined;
  const position = raw.toString('utf8', 0, nl);
  const t = raw[nl + 1];
  try {
    if (t === 0x55 /* U */) {
      const end = raw.indexOf(0x0a, nl + 2);
      if (end < 0) return undefined;
      const h = JSON.parse(raw.toString('utf8', nl + 2, end)) as Header;
      if (typeof h.o !== 'string' || typeof h.m !== 'string' || typeof h.t !== 'number' || !Array.isArray(h.u)) return undefined;
      let at = end + 1;
      const updates: WireUpdate[] = [];
      for (const [kind, id, version, length] of h.u) {
        if (typeof kind !== 'string' || typeof id !== 'string' || !Number.isSafeInteger(version)) return undefined;
        let bytes: Buffer | undefined;
        if (length >= 0) {
          if (at + length > raw.length) return undefined;
          bytes = raw.subarray(at, at + length);
          at += length;
        }
        updates.push({ kind, id, version, bytes });
      }
      const note = h.n >= 0 ? raw.subarray(at, at + h.n) : undefined;
      return { t: 'U', origin: h.o, id: h.m, position, stamp: h.t, updates, note };
    }
    if (t === 0x43 /* C */ || t === 0x53 /* S */) {
      const b = JSON.parse(raw.toString('utf8', nl + 2)) as { o?: unknown; m?: unknown };
      if (typeof b.o !== 'string' || typeof b.m !== 'string') return undefined;
      return { t: t === 0x43 ? 'C' : 'S', origin: b.o, id: b.m };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Inbox messages: lease heartbeats `hb:<sentAt>:<redisNow>` and acks `a:<messageId>:<from>`. */
export function encodeAck(messageId: string, from: string): string {
  return `a:${messageId}:${from}`;
}

export function decodeAck(raw: string): { messageId: string; from: string } | undefined {
  if (!raw.startsWith('a:')) return undefined;
  const sep = raw.lastIndexOf(':');
  if (sep <= 2) return undefined;
  return { messageId: raw.slice(2, sep), from: raw.slice(sep + 1) };
}
