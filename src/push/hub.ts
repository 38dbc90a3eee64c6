import type { MemberState } from '../conversation-list/state.js';
import { CLOSE } from './protocol.js';

/** One client connection, as the hub sees it (a WebSocket in production). */
export interface Peer {
  send(frame: string): void;
  /** Runs `sends`, whose frames then leave in one write to the socket (where the transport can). */
  batch(sends: () => void): void;
  close(code: number, reason: string): void;
  /** Bytes queued for the client but not yet written to its socket. */
  readonly bufferedAmount: number;
}

export interface HubOptions {
  maxPerUser: number;
  maxBufferedBytes: number;
  /** Called when the number of connections goes from 0 to some, or back. */
  onActive(active: boolean): void;
}

interface UserEntry {
  peers: Set<Peer>;
  /** The user's memberships as this instance last applied them: whom an event may go to. */
  member: MemberState | undefined;
}

/**
 * This instance's connected users (Mattermost's web hub, in spirit): connections per user, and the
 * index conversation -> connected members that every event is filtered through, kept from each
 * connected user's member state. An event reaches a connection only through `send(userId, ...)` of a
 * user the caller found as a member: no event is ever addressed to a connection by conversation alone.
 */
export class Hub {
  private readonly users = new Map<string, UserEntry>();
  private readonly members = new Map<string, Set<string>>();
  private connections = 0;

  constructor(private readonly o: HubOptions) {}

  /** False when the user already has as many connections as allowed (the caller closes this one). */
  add(userId: string, peer: Peer): boolean {
    let u = this.users.get(userId);
    if (u === undefined) this.users.set(userId, (u = { peers: new Set(), member: undefined }));
    if (u.peers.size >= this.o.maxPerUser) return false;
    u.peers.add(peer);
    if (this.connections++ === 0) this.o.onActive(true);
    return true;
  }

  remove(userId: string, peer: Peer): void {
    const u = this.users.get(userId);
    if (u === undefined || !u.peers.delete(peer)) return;
    if (u.peers.size === 0) {
      this.index(userId, u.member, undefined);
      this.users.delete(userId);
    }
    if (--this.connections === 0) this.o.onActive(false);
  }

  has(userId: string): boolean {
    return this.users.has(userId);
  }

  member(userId: string): MemberState | undefined {
    return this.users.get(userId)?.member;
  }

  setMember(userId: string, state: MemberState): void {
    const u = this.users.get(userId);
    if (u === undefined) return;
    this.index(userId, u.member, state);
    u.member = state;
  }

  /** Connected users whose member state lists this conversation. */
  membersOf(conversationId: string): ReadonlySet<string> {
    return this.members.get(conversationId) ?? EMPTY;
  }

  /** Every connected user (for profile changes touching many conversations, and resyncs). */
  userIds(): IterableIterator<string> {
    return this.users.keys();
  }

  get size(): number {
    return this.connections;
  }

  /**
   * To every connection of the user, frames in order, small ones coalesced into one socket write; a
   * connection whose client reads too slowly is closed instead. The cap is checked before each write:
   * bytes held for a coalesced write count as buffered until it goes, so coalescing stops at a bound.
   */
  send(userId: string, frames: string | readonly string[]): void {
    const u = this.users.get(userId);
    if (u === undefined) return;
    const list = typeof frames === 'string' ? [frames] : frames;
    for (const p of u.peers) {
      let i = 0;
      while (i < list.length) {
        if (p.bufferedAmount > this.o.maxBufferedBytes) {
          p.close(CLOSE.SLOW_CONSUMER, 'slow consumer: reconnect and resume');
          break;
        }
        const start = i;
        let chars = list[i++]!.length;
        while (i < list.length && chars + list[i]!.length <= COALESCE_CHARS) chars += list[i++]!.length;
        const end = i;
        if (end - start === 1) p.send(list[start]!);
        else {
          p.batch(() => {
            for (let k = start; k < end; k++) p.send(list[k]!);
          });
        }
      }
    }
  }

  sendAll(frame: string): void {
    for (const id of this.users.keys()) this.send(id, frame);
  }

  closeAll(code: number, reason: string): void {
    for (const u of this.users.values()) for (const p of u.peers) p.close(code, reason);
  }

  private index(userId: string, before: MemberState | undefined, after: MemberState | undefined): void {
    if (before !== undefined) {
      for (const c of before.conversationIds) {
        if (after?.conversationIds.has(c)) continue;
        const set = this.members.get(c);
        set?.delete(userId);
        if (set?.size === 0) this.members.delete(c);
      }
    }
    if (after !== undefined) {
      for (const c of after.conversationIds) {
        let set = this.members.get(c);
        if (set === undefined) this.members.set(c, (set = new Set()));
        set.add(userId);
      }
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Frames coalesced into one socket write, at most (characters: a bound, not an exact byte count). */
const COALESCE_CHARS = 16 * 1024;
