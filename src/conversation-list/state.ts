import type { Codec } from '../cache/engine/index.js';
import type { ConversationType } from '../model/model.js';
import type { ConversationStateRow, MemberStateRow } from '../store/list-state.js';

/**
 * The two kinds of cached state a list is composed from (README.md in this folder):
 * - a conversation's state: what every member sees alike, with the newest live messages (ids and
 *   senders) for unread counts;
 * - a member's state: the user's active memberships, each with where its unread count starts from.
 * Both carry their version from PostgreSQL (src/store/list-state.ts).
 */

/** Newest live messages kept per conversation for unread counts (README.md: "unread counts"). */
export const RECENT_MESSAGES = 50;

export const CONVERSATION = 'c';
export const MEMBER = 'm';

export interface ConversationState {
  readonly id: string;
  readonly type: ConversationType;
  readonly title: string | null;
  readonly avatar: string | null;
  readonly memberCount: number;
  /** The item's `members` and `lastMessage` JSON, as PostgreSQL wrote them. */
  readonly members: string;
  readonly lastMessage: string | null;
  readonly lastMessageAt: string | null;
  readonly sortAt: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Direct conversations: [userId, displayName] in title order. */
  readonly peers: ReadonlyArray<readonly [string, string]> | null;
  /** Newest live messages first: id, sender id, id, sender id, ... */
  readonly recent: readonly number[];
  /** `recent` holds every live message of the conversation. */
  readonly complete: boolean;
  readonly deletions: number;
  /** The item's JSON around its viewer-dependent parts, made once per state (see compose.ts). */
  readonly render: { readonly head: string; readonly mid: string; readonly tail: string };
}

export interface Membership {
  /** Conversation id. */
  readonly c: string;
  /** Read marker: messages with id <= r are read. */
  readonly r: number;
  /** The conversation's last live message when this state was read... */
  readonly b: number;
  /** ...and the member's unread count up to it. */
  readonly n: number;
  /** The conversation's deletion count then: a deletion since makes `n` unusable. */
  readonly d: number;
}

export interface MemberState {
  readonly userId: string;
  readonly memberships: readonly Membership[];
  readonly conversationIds: ReadonlySet<string>;
}

// ------------------------------------------------------------------ rows -> state

export function conversationFromRow(row: ConversationStateRow): { version: number; state: ConversationState } {
  const pairs = JSON.parse(row.recent) as Array<[number, number]>;
  const complete = pairs.length <= RECENT_MESSAGES;
  const recent: number[] = [];
  for (const [id, sender] of pairs.slice(0, RECENT_MESSAGES)) recent.push(id, sender);
  return {
    version: Number(row.version),
    state: withRender({
      id: row.id,
      type: row.type,
      title: row.title,
      avatar: row.avatar,
      memberCount: row.memberCount,
      members: row.members,
      lastMessage: row.lastMessage,
      lastMessageAt: row.lastMessageAt,
      sortAt: row.sortAt,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      peers: row.peers === null ? null : (JSON.parse(row.peers) as Array<[string, string]>),
      recent,
      complete,
      deletions: row.deletions,
    }),
  };
}

export function memberFromRow(row: MemberStateRow): { version: number; state: MemberState } {
  const items = JSON.parse(row.items) as Array<[string, string, string, number, number]>;
  return {
    version: Number(row.version),
    state: memberState(
      row.userId,
      items.map(([c, r, b, n, d]) => ({ c, r: Number(r), b: Number(b), n, d })),
    ),
  };
}

function memberState(userId: string, memberships: Membership[]): MemberState {
  return { userId, memberships, conversationIds: new Set(memberships.map((m) => m.c)) };
}

/**
 * The JSON of an item is PostgreSQL's `json_build_object` text (the SQL source is the reference, byte
 * for byte): keys and values separated by " : ", pairs by ", ". Strings are escaped by JSON.stringify,
 * which escapes exactly what PostgreSQL's escape_json does (quote, backslash, the C0 controls with
 * the same short forms, nothing else).
 */
function withRender(s: Omit<ConversationState, 'render'>): ConversationState {
  const str = JSON.stringify;
  const title = s.type === 'direct' ? '' : (s.title === null ? 'null' : str(s.title));
  return {
    ...s,
    render: {
      head: `{"id" : ${str(s.id)}, "type" : ${str(s.type)}, "title" : ${title}`,
      mid:
        `, "avatar" : ${s.avatar === null ? 'null' : str(s.avatar)}, "memberCount" : ${s.memberCount}, "members" : ${s.members}` +
        `, "lastMessage" : ${s.lastMessage ?? 'null'}, "lastMessageAt" : ${s.lastMessageAt === null ? 'null' : str(s.lastMessageAt)}, "unreadCount" : `,
      tail: `, "createdAt" : ${str(s.createdAt)}, "updatedAt" : ${str(s.updatedAt)}}`,
    },
  };
}

// ------------------------------------------------------------------ codecs (Redis and the bus)

type StoredConversation = [
  id: string,
  type: ConversationType,
  title: string | null,
  avatar: string | null,
  memberCount: number,
  members: string,
  lastMessage: string | null,
  lastMessageAt: string | null,
  sortAt: string,
  createdAt: string,
  updatedAt: string,
  peers: Array<[string, string]> | null,
  recent: number[],
  complete: 0 | 1,
  deletions: number,
];

export const conversationCodec: Codec<ConversationState> = {
  encode(s) {
    const row: StoredConversation = [
      s.id, s.type, s.title, s.avatar, s.memberCount, s.members, s.lastMessage, s.lastMessageAt,
      s.sortAt, s.createdAt, s.updatedAt, s.peers as Array<[string, string]> | null, s.recent as number[], s.complete ? 1 : 0, s.deletions,
    ];
    return Buffer.from(JSON.stringify(row));
  },
  decode(bytes) {
    const r = JSON.parse(bytes.toString('utf8')) as StoredConversation;
    if (!Array.isArray(r) || r.length !== 15 || typeof r[0] !== 'string') throw new Error('not a conversation state');
    return withRender({
      id: r[0], type: r[1], title: r[2], avatar: r[3], memberCount: r[4], members: r[5], lastMessage: r[6],
      lastMessageAt: r[7], sortAt: r[8], createdAt: r[9], updatedAt: r[10], peers: r[11], recent: r[12],
      complete: r[13] === 1, deletions: r[14],
    });
  },
};

export const memberCodec: Codec<MemberState> = {
  encode(s) {
    return Buffer.from(JSON.stringify([s.userId, s.memberships.map((m) => [m.c, m.r, m.b, m.n, m.d])]));
  },
  decode(bytes) {
    const r = JSON.parse(bytes.toString('utf8')) as [string, Array<[string, number, number, number, number]>];
    if (!Array.isArray(r) || typeof r[0] !== 'string' || !Array.isArray(r[1])) throw new Error('not a member state');
    return memberState(r[0], r[1].map(([c, r2, b, n, d]) => ({ c, r: r2, b, n, d })));
  },
};
