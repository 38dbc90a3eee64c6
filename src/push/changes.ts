import type { Engine } from '../cache/engine/index.js';
import type { ConversationListCache } from '../conversation-list/cached-source.js';
import { decodeNote } from '../conversation-list/note.js';
import { resyncRequired, unavailable } from '../errors.js';

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
 * Marks the positions this route hands out. Every note up to such a position was read from the
 * journal and is reflected in that answer, so the next call reads on from it exactly. A position
 * from the stream (a frame, `ready`) or the journal's head does not promise that: a write older than
 * it may not have reached the client yet (frames are held until their write settles), so the journal
 * is read back a little before it. Reading back from a position of ours instead would hand the same
 * notes out again on every page, and a chain of pages within that window would never end.
 */
const READ_ON = '~';

/**
 * What changed in a user's list after a position (Rocket.Chat's `updatedSince` + trash, Matrix sliding
 * sync's `pos`): read from the journal of the list state's publications, in order. Items are composed
 * now (a conversation that changed twice is sent once, as it is now); a conversation the user left is
 * a removal unless they are back in it. A page stops before the write that would take it past `limit`
 * conversations (a single write that changed more is returned whole). A position that is too old,
 * from before a clear, or not one of ours: RESYNC_REQUIRED (410), and the client reloads its list.
 */
export async function changesSince(engine: Engine, list: ConversationListCache, userId: string, since: string | undefined, limit: number): Promise<Changes> {
  if (since === undefined) {
    const head = await engine.journalHead();
    if (head === undefined) throw resyncRequired('the change history cannot be read now; reload the list');
    return { changed: [], removed: [], position: head, hasMore: false };
  }
  const exact = since.endsWith(READ_ON);
  const from = exact ? since.slice(0, -READ_ON.length) : since;
  const read = await engine.journalRead(from, SCAN, exact ? 0 : engine.settleBoundMs).catch(() => {
    // Redis cannot be reached: the position may be good, the history just cannot be read now.
    throw unavailable('the change history cannot be read now; retry');
  });
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
  let position = from;
  let stopped = false;
  for (const { note: raw, position: at } of read.notes) {
    const note = decodeNote(raw);
    // Only the user's conversations: changes of the others are someone else's.
    const touched = new Map<string, number>();
    let gone: string | undefined;
    if (note !== undefined) {
      note.cs.forEach((c, i) => {
        if (member.conversationIds.has(c)) touched.set(c, note.cv[i] ?? 0);
      });
      if (note.c !== null && (note.ms.includes(userId) || note.r.includes(userId))) {
        if (member.conversationIds.has(note.c)) touched.set(note.c, touched.get(note.c) ?? 0);
        else gone = note.c;
      }
    }
    const added = [...touched.keys()].filter((c) => !changed.has(c)).length + (gone !== undefined && !removed.has(gone) ? 1 : 0);
    if (added > 0 && changed.size + removed.size > 0 && changed.size + removed.size + added > limit) {
      stopped = true;
      break;
    }
    for (const [c, v] of touched) changed.set(c, Math.max(v, changed.get(c) ?? 0));
    if (gone !== undefined) removed.add(gone);
    position = at;
  }
  const items = await list.itemsFor(userId, member, [...changed.keys()], changed);
  return {
    changed: [...items.values()],
    removed: [...removed],
    position: position + READ_ON,
    hasMore: stopped || read.more,
  };
}
