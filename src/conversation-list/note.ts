import type { WriteEvent, WriteKind } from '../domain/events.js';
import type { Message } from '../model/model.js';

/**
 * What a write's publication carries besides the pieces (see the engine's PublishOptions):
 * - the journal note: enough for a changes feed to tell, for one user, which of their conversations
 *   changed and which left their list;
 * - the bus note: the same, plus the message a `message.*` write created, edited or deleted (what the
 *   push sends to the conversation's connected members).
 */
export interface JournalNote {
  /** The write's kind and conversation. */
  k: WriteKind;
  c: string | null;
  /** Conversations whose shared state changed, and the version each got; the same for member states. */
  cs: readonly string[];
  cv: readonly number[];
  ms: readonly string[];
  mv: readonly number[];
  /** Users whose list the conversation left. */
  r: readonly string[];
}

export interface BusNote extends JournalNote {
  msg?: Message;
  mid?: string;
}

/** The note of a write whose new versions are `versions` (kind:id -> version of what was published). */
export function journalNote(e: WriteEvent, versions: ReadonlyMap<string, number>): JournalNote {
  const cs = e.changed.conversations;
  const ms = e.changed.memberLists;
  return {
    k: e.kind,
    c: e.conversationId,
    cs,
    cv: cs.map((id) => versions.get(`c:${id}`) ?? 0),
    ms,
    mv: ms.map((id) => versions.get(`m:${id}`) ?? 0),
    r: e.removedUserIds ?? [],
  };
}

export function busNote(e: WriteEvent, versions: ReadonlyMap<string, number>): BusNote {
  const n: BusNote = journalNote(e, versions);
  if (e.message) n.msg = e.message;
  if (e.messageId) n.mid = e.messageId;
  return n;
}

export function encodeNote(n: JournalNote): Buffer {
  return Buffer.from(JSON.stringify(n));
}

/** Undefined for anything that is not a note (another release's, or damaged). */
export function decodeNote(b: Buffer): BusNote | undefined {
  try {
    const n = JSON.parse(b.toString('utf8')) as BusNote;
    if (typeof n !== 'object' || n === null || typeof n.k !== 'string') return undefined;
    if (!Array.isArray(n.cs) || !Array.isArray(n.cv) || !Array.isArray(n.ms) || !Array.isArray(n.mv) || !Array.isArray(n.r)) return undefined;
    return n;
  } catch {
    return undefined;
  }
}
