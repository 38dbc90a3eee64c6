import type { Engine } from '../cache/engine/index.js';
import type { ConversationListCache } from '../conversation-list/cached-source.js';
import { decodeNote } from '../conversation-list/note.js';
import { resyncRequired } from '../errors.js';

export interface Changes {
  /** Items, as the list shows them now, of the caller's conversations that changed after the position. */
  changed: string[];
  /** Conversations that left the caller's list after the position. */
  removed: string[];
  /** Where the next call starts. */
  position: string;
  hasMore: boolean;
}

/** Journal notes read per call, at most (a page of changes may need many notes of other users). */
const SCAN = 2000;

/**
 * What changed in a user's list after a position (Rocket.Chat's `updatedSince` + trash, Matrix sliding
 * sync's `pos`): read from the journal of the list state's publications, in order. Items are composed
 * now (a conversation that changed twice is sent once, as it is now); a conversation the user left is
 * a removal unless they are back in it. A position that is too old, from before a clear, or not one
 * of ours: RESYNC_REQUIRED (410), and the client reloads its list.
 */
export async function changesSince(engine: Engine, list: ConversationListCache, userId: string, since: string | undefined, limit: number): Promise<Changes> {
  if (since === undefined) {
    const head = await engine.journalHead();
    if (head === undefined) throw resyncRequired('the change history cannot be read now; reload the list');
    return { changed: [], removed: [], position: head, hasMore: false };
  }
  // Read back a little: a write older than the client's newest position may have reached it later.
  const read = await engine.journalRead(since, SCAN, engine.settleBoundMs);
  if (read === undefined) throw resyncRequired('this position is too old or unknown; reload the list');

  // The user's own member state may be newer in the journal than in this instance's cache (a write of
  // theirs on its way here): scanned with the newest one the notes name.
  let memberAtLeast = 0;
  for (const { note: raw } of read.notes) {
    const note = decodeNote(raw);
    const mine = note?.ms.indexOf(userId) ?? -1;
    if (note !== undefined && mine >= 0) memberAtLeast = Math.max(memberAtLeast, note.mv[mine] ?? 0);
  }
  const member = await list.memberState(userId, memberAtLeast);

  const changed = new Map<string, number>();
  const removed = new Set<string>();
  let position = since;
  let stopped = false;
  for (const { note: raw, position: at } of read.notes) {
    const note = decodeNote(raw);
    if (note !== undefined) {
      // Only the user's conversations: changes of the others are someone else's.
      note.cs.forEach((c, i) => {
        if (member.conversationIds.has(c)) changed.set(c, Math.max(note.cv[i] ?? 0, changed.get(c) ?? 0));
      });
      if (note.c !== null && (note.ms.includes(userId) || note.r.includes(userId))) {
        if (member.conversationIds.has(note.c)) {
          if (!changed.has(note.c)) changed.set(note.c, 0);
        } else removed.add(note.c);
      }
    }
    position = at;
    if (changed.size + removed.size >= limit) {
      stopped = true;
      break;
    }
  }
  const items = await list.itemsFor(userId, member, [...changed.keys()], changed);
  return {
    changed: [...items.values()],
    removed: [...removed],
    position,
    hasMore: stopped || read.more,
  };
}
