// @ts-check
/**
 * The caller's conversation list, kept current: loaded once, then changed in place by the stream's
 * frames. After a reconnect or a `resync` frame it asks GET /conversations/changes what it missed since
 * the last position it saw; a position the server no longer knows (410) reloads the list. Frames that
 * arrive while that runs wait, and are applied after it: the stream delivers the newest state last.
 */
import { api, ApiError, compareIds, unwrap } from './api.js';
import { openStream } from './stream.js';

/** @typedef {import('./api.js').ConversationListItem} ConversationListItem */
/** @typedef {import('./stream.js').Frame} Frame */
/** @typedef {Extract<Frame, { type: 'message' }>} MessageFrame */
/** @typedef {import('./stream.js').StreamState} StreamState */

/** The first page of the list is what the demo shows; conversations active later come in by the stream. */
const LIST_LIMIT = 50;
const CHANGES_LIMIT = 100;

/** Newest activity first, then the greater id, as GET /conversations orders them. */
function byActivity(/** @type {ConversationListItem} */ a, /** @type {ConversationListItem} */ b) {
  const at = (/** @type {ConversationListItem} */ c) => c.lastMessageAt ?? c.createdAt;
  if (at(a) !== at(b)) return at(a) < at(b) ? 1 : -1;
  return compareIds(b.id, a.id);
}

export class LiveList {
  /** @type {Map<string, ConversationListItem>} */
  items = new Map();
  /** @type {string | null} the last position seen (a frame's, or a changes answer's); null: load the list */
  position = null;
  /** @type {Frame[] | null} frames waiting while the list is loaded or resumed */
  #waiting = null;
  /** A sync was asked for while one ran (a reconnect): it runs once more, from the position it reached. */
  #syncAgain = false;
  /** @type {StreamState} */
  #streamState = 'connecting';
  /** @type {{ close(): void } | undefined} */
  #stream;
  /** Counts start/stop: what a sync fetched for an earlier session is not applied. */
  #session = 0;

  /**
   * @param {{
   *   onChange(): void,
   *   onRemoved(conversationId: string): void,
   *   onMessage(frame: MessageFrame): void,
   *   onSynced(): void,
   *   onState(state: StreamState | 'syncing'): void,
   *   onUnauthorized(): void,
   *   onError(err: unknown): void }} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
  }

  start(/** @type {string} */ token) {
    this.stop();
    this.#stream = openStream({
      token,
      onFrame: (frame) => this.#receive(frame),
      onState: (state) => {
        this.#streamState = state;
        // Live once caught up: the sync that every `ready` starts says so when it is done.
        if (state !== 'live' && !this.#waiting) this.handlers.onState(state);
      },
      onUnauthorized: () => this.handlers.onUnauthorized(),
    });
  }

  /** Closes the stream and forgets the list; a sync still running is dropped when it returns. */
  stop() {
    this.#stream?.close();
    this.#stream = undefined;
    this.#session++;
    this.#waiting = null;
    this.#syncAgain = false;
    this.items = new Map();
    this.position = null;
  }

  /** @returns {ConversationListItem[]} */
  sorted() {
    return [...this.items.values()].sort(byActivity);
  }

  /** An item a write of the client's own answered with (create, mark read): shown at once. */
  put(/** @type {ConversationListItem} */ item) {
    this.#local({ type: 'conversation', position: null, item });
  }

  /** A conversation the client itself left. */
  drop(/** @type {string} */ id) {
    this.#local({ type: 'removed', position: null, conversationId: id });
  }

  /** A change of the client's own: shown now, and applied again after a sync that is running (which may predate it). */
  #local(/** @type {Extract<Frame, { type: 'conversation' | 'removed' }>} */ change) {
    if (change.type === 'conversation') this.items.set(change.item.id, change.item);
    else this.items.delete(change.conversationId);
    this.#waiting?.push(change);
    this.handlers.onChange();
  }

  /** @param {Frame} frame */
  #receive(frame) {
    if (frame.type === 'ready' || frame.type === 'resync') {
      void this.#sync();
      return;
    }
    if (this.#waiting) this.#waiting.push(frame);
    else this.#apply(frame);
  }

  /** @param {Exclude<Frame, { type: 'ready' | 'resync' }>} frame */
  #apply(frame) {
    if (frame.position !== null) this.position = frame.position;
    if (frame.type === 'conversation') {
      this.items.set(frame.item.id, frame.item);
      this.handlers.onChange();
    } else if (frame.type === 'removed') {
      this.items.delete(frame.conversationId);
      this.handlers.onChange();
      this.handlers.onRemoved(frame.conversationId);
    } else {
      this.handlers.onMessage(frame);
    }
  }

  async #sync() {
    if (this.#waiting) {
      this.#syncAgain = true;
      return;
    }
    const session = this.#session;
    this.#waiting = [];
    this.handlers.onState('syncing');
    const before = [...this.items.keys()];
    do {
      this.#syncAgain = false;
      try {
        const changes = this.position === null ? null : await this.#changesSince(this.position);
        const list = changes === null && session === this.#session ? await this.#load() : null;
        if (session !== this.#session) return;
        if (changes) {
          for (const item of changes.changed) this.items.set(item.id, item);
          for (const id of changes.removed) this.items.delete(id);
          this.position = changes.position;
        } else if (list) {
          this.items = new Map(list.items.map((item) => [item.id, item]));
          this.position = list.position;
        }
      } catch (err) {
        if (session !== this.#session) return;
        this.handlers.onError(err);
      }
    } while (this.#syncAgain);
    const waiting = this.#waiting ?? [];
    this.#waiting = null;
    for (const frame of waiting) if (frame.type !== 'ready' && frame.type !== 'resync') this.#apply(frame);
    this.handlers.onChange();
    for (const id of before) if (!this.items.has(id)) this.handlers.onRemoved(id);
    this.handlers.onSynced();
    this.handlers.onState(this.#streamState);
  }

  /**
   * What changed after `since`, every page of it; null when the server no longer knows that position (410).
   * @returns {Promise<{ changed: ConversationListItem[], removed: string[], position: string } | null>}
   */
  async #changesSince(/** @type {string} */ since) {
    /** @type {ConversationListItem[]} */
    const changed = [];
    /** @type {string[]} */
    const removed = [];
    for (;;) {
      let page;
      try {
        page = await unwrap(api.GET('/api/v1/conversations/changes', { params: { query: { since, limit: CHANGES_LIMIT } } }));
      } catch (err) {
        if (err instanceof ApiError && err.code === 'RESYNC_REQUIRED') return null;
        throw err;
      }
      changed.push(...page.changed);
      removed.push(...page.removed);
      since = page.position;
      if (!page.hasMore) return { changed, removed, position: since };
    }
  }

  /**
   * The position first, then the list: whatever changes between the two is in a frame after it.
   * @returns {Promise<{ items: ConversationListItem[], position: string | null }>}
   */
  async #load() {
    let position = null;
    try {
      position = (await unwrap(api.GET('/api/v1/conversations/changes'))).position;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'RESYNC_REQUIRED')) throw err;
    }
    const items = await unwrap(api.GET('/api/v1/conversations', { params: { query: { limit: LIST_LIMIT } } }));
    return { items, position };
  }
}
