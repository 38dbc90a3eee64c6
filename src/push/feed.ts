import type { Logger } from 'pino';
import type { Applied, Engine } from '../cache/engine/index.js';
import type { ConversationListCache, ItemRequest } from '../conversation-list/cached-source.js';
import { decodeNote, type BusNote } from '../conversation-list/note.js';
import { MEMBER, type MemberState } from '../conversation-list/state.js';
import type { Hub } from './hub.js';
import { conversationFrame, messageFrame, removedFrame, resyncFrame } from './protocol.js';

interface Held {
  note: BusNote;
  position: string | null;
  timer: NodeJS.Timeout;
}

/**
 * Turns the list state's publications (the engine's 'applied' events: this instance's writes and the
 * others', the same events that keep its cache) into frames for this instance's connected users.
 *
 * Never older than a read: a write's frames are held until the write is 'settled' (every live instance
 * serves it), so a client that refetches its list after a frame gets at least what the frame showed,
 * whichever instance it asks. Without the settlement (its writer died), they go after the longest a
 * write can take to reach every instance (by then every instance serves it, or has stopped trusting
 * its memory and reads the database).
 *
 * Never to a non-member: every frame goes to users the hub lists as members of the conversation, by
 * their member state as this instance last applied it, and items are composed from that state.
 */
export class PushFeed {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly engine: Engine,
    private readonly list: ConversationListCache,
    private readonly hub: Hub,
    private readonly log: Logger,
  ) {
    engine.events.on('applied', (e) => this.onApplied(e.updates, e.note, e.position, e.messageId));
    engine.events.on('settled', ({ messageId }) => this.release(messageId));
    // Frames may be missed from here on (this instance cannot prove it hears every write) or already
    // were (writes Redis could not journal): clients reload, then resume.
    engine.events.on('coherence', ({ coherent }) => {
      if (!coherent) this.hub.sendAll(resyncFrame('the server may have missed updates: reload the list'));
    });
    engine.events.on('journalReset', () => this.hub.sendAll(resyncFrame('update history was reset: reload the list')));
    engine.events.on('cleared', () => this.hub.sendAll(resyncFrame('the cache was cleared: reload the list')));
  }

  /** A user connected: their member state is what their frames are filtered through. */
  async track(userId: string): Promise<void> {
    this.hub.setMember(userId, await this.list.memberState(userId));
  }

  private onApplied(updates: readonly Applied[], raw: Buffer | undefined, position: string | undefined, messageId: string): void {
    if (this.hub.size === 0 || raw === undefined) return;
    const note = decodeNote(raw);
    if (note === undefined) return;
    // Member states of connected users move at once: filtering uses the newest truth (a user who just
    // left gets nothing more of that conversation, even of a write held before).
    for (const u of updates) {
      if (u.kind !== MEMBER || !this.hub.has(u.id)) continue;
      if (u.value != null) this.hub.setMember(u.id, u.value as MemberState);
      else void this.refreshMember(u.id, u.version);
    }
    const timer = setTimeout(() => this.release(messageId), this.engine.settleBoundMs);
    timer.unref();
    this.held.set(messageId, { note, position: position ?? null, timer });
  }

  private async refreshMember(userId: string, version: number): Promise<void> {
    try {
      this.hub.setMember(userId, await this.list.memberState(userId, version));
    } catch (err) {
      this.log.warn({ err: String(err), userId }, '[PUSH] member state could not be read');
    }
  }

  private release(messageId: string): void {
    const h = this.held.get(messageId);
    if (h === undefined) return;
    this.held.delete(messageId);
    clearTimeout(h.timer);
    this.flush(h).catch((err: unknown) => this.log.warn({ err: String(err) }, '[PUSH] frames of a write could not be sent'));
  }

  private async flush({ note, position }: Held): Promise<void> {
    // Who gets what: conversations whose shared state changed go to their connected members; a
    // member state that changed concerns the write's own conversation for that user.
    const items = new Map<string, Set<string>>();
    const add = (userId: string, conversationId: string): void => {
      let set = items.get(userId);
      if (set === undefined) items.set(userId, (set = new Set()));
      set.add(conversationId);
    };
    for (const c of note.cs) for (const u of this.hub.membersOf(c)) add(u, c);
    if (note.c !== null) for (const u of note.ms) if (this.hub.member(u)?.conversationIds.has(note.c)) add(u, note.c);
    const atLeast = new Map(note.cs.map((c, i) => [c, note.cv[i] ?? 0]));

    const messageTo = note.c !== null && (note.msg !== undefined || note.mid !== undefined) ? [...this.hub.membersOf(note.c)] : [];
    const requests: ItemRequest[] = [];
    for (const [userId, conversations] of items) {
      const member = this.hub.member(userId);
      if (member !== undefined) requests.push({ userId, member, conversationIds: [...conversations] });
    }
    // One batch for every user: the conversations' states are read once, unread counts a member's
    // cached state cannot give are read for all such users in one go.
    const built = await this.list.itemsForMany(requests, atLeast);
    for (const r of requests) {
      const newer = built.refreshed.get(r.userId);
      // Only over the state the items were counted from: one applied meanwhile is newer still.
      if (newer !== undefined && this.hub.member(r.userId) === r.member) this.hub.setMember(r.userId, newer);
    }

    // Each user's frames of this write, in order: their items, a removal, the message.
    const frames = new Map<string, string[]>();
    const push = (userId: string, frame: string): void => {
      const list = frames.get(userId);
      if (list === undefined) frames.set(userId, [frame]);
      else list.push(frame);
    };
    for (const [userId, byConversation] of built.items) for (const item of byConversation.values()) push(userId, conversationFrame(position, item));
    if (note.c !== null) {
      for (const u of note.r) if (this.hub.has(u) && !this.hub.member(u)?.conversationIds.has(note.c)) push(u, removedFrame(position, note.c));
      const event = note.k === 'message.created' ? 'created' : note.k === 'message.edited' ? 'edited' : note.k === 'message.deleted' ? 'deleted' : undefined;
      if (event !== undefined) {
        const id = note.msg?.id ?? note.mid ?? '';
        let frame: string | undefined;
        for (const u of messageTo) {
          if (this.hub.member(u)?.conversationIds.has(note.c)) push(u, (frame ??= messageFrame(position, event, note.c, id, note.msg)));
        }
      }
    }
    for (const [userId, list] of frames) this.hub.send(userId, list);
  }

  close(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }
}
