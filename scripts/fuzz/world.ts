import { randomBytes } from 'node:crypto';
import type { HttpSender } from './http.js';

export interface Actor {
  id: string;
  username: string;
  password: string;
  token: string;
}

/** Who exists and what belongs to whom: the fuzzer's ground truth. */
export interface World {
  runId: string;
  jwtSecret: string;
  /** Their private conversations and messages must never reach anyone else. */
  victims: Actor[];
  attacker: Actor;
  /** Has the admin role; only sends valid requests (cache administration). */
  operator: Actor;
  /** Private (direct and group) conversations of the victims: the attacker is in none. */
  victimPrivateConvs: string[];
  /** Public conversations of the victims: anyone may join; they carry no marker. */
  victimPublicConvs: string[];
  victimMessages: Array<{ conv: string; id: string; sender: string }>;
  attackerConvs: string[];
  attackerGroups: string[];
  attackerMessages: Array<{ conv: string; id: string }>;
  /** Every marker string sent by a victim (titles and message contents). */
  markers: string[];
  /** The prefix every marker starts with: finding it anywhere in an answer to the attacker is a leak. */
  markerPrefix: string;
  /** A new marker (registered before it is sent). */
  newMarker(what: string): string;
}

/**
 * Ids of the three tables live in disjoint ranges of equal width (users 1000001…, conversations
 * 2000001…, messages 3000000001…): an id in a response names one row of one table, and an id of the
 * same length that was never issued is at hand for differential checks.
 */
export const ID_RANGES_SQL = `
  ALTER TABLE users ALTER COLUMN id RESTART WITH 1000001;
  ALTER TABLE conversations ALTER COLUMN id RESTART WITH 2000001;
  ALTER TABLE messages ALTER COLUMN id RESTART WITH 3000000001;`;

/** An id of the same length as `id` that no table will ever issue in a run (the top of its range). */
export function twinId(id: string): string {
  return id[0] + '9'.repeat(id.length - 1);
}

/** Ids below every range: valid-looking, never existing. */
export const NONEXISTENT_IDS = ['1', '7', '42', '999999', '999999999999', '999999999999999999', '2999999', '3999999999', '1999999'];

export class SetupError extends Error {}

export async function buildWorld(sender: HttpSender, jwtSecret: string, adminUsername: string): Promise<World> {
  const runId = randomBytes(6).toString('hex');
  const markerPrefix = `vsecret${runId}`;
  let markerSeq = 0;
  const markers: string[] = [];
  const marker = (what: string) => {
    const m = `${markerPrefix}x${what}x${++markerSeq}`;
    markers.push(m);
    return m;
  };

  const call = async (method: string, path: string, token: string | undefined, body?: unknown): Promise<any> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const out = await sender.send({ method, path, headers, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) });
    if (!out.ok) throw new SetupError(`${method} ${path}: ${out.error}`);
    if (out.res.status >= 300) throw new SetupError(`${method} ${path}: ${out.res.status} ${out.res.text.slice(0, 300)}`);
    return JSON.parse(out.res.text).data;
  };
  const register = async (username: string, displayName: string): Promise<Actor> => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const data = await call('POST', '/api/v1/auth/register', undefined, { username, password, displayName });
    return { id: data.user.id, username: data.user.username, password, token: data.token };
  };

  // Independent writes go out together (registration is scrypt on the thread pool; setup time counts).
  const [victimA, victimB, attacker, operator] = await Promise.all([
    register(`fzva${runId}`, 'Victim A'),
    register(`fzvb${runId}`, 'Victim B'),
    register(`fzat${runId}`, 'Attacker'),
    register(adminUsername, 'Operator'),
  ]);

  const conv = async (who: Actor, body: unknown) => (await call('POST', '/api/v1/conversations', who.token, body)).id as string;
  const post = async (who: Actor, c: string, content: string) =>
    (await call('POST', `/api/v1/conversations/${c}/messages`, who.token, { content })).id as string;

  // Markers are taken before the requests go out, so that their order does not depend on timing.
  const titles = [marker('group-title'), marker('group2-title')] as const;
  const [victimGroup, victimGroup2, victimDirect, victimPublic, attackerGroup, attackerDirect, attackerPublic] = await Promise.all([
    conv(victimA, { type: 'group', title: titles[0], memberIds: [victimB.id] }),
    conv(victimB, { type: 'group', title: titles[1], memberIds: [victimA.id] }),
    conv(victimA, { type: 'direct', memberIds: [victimB.id] }),
    conv(victimA, { type: 'public', title: 'Victims public square', memberIds: [] }),
    conv(attacker, { type: 'group', title: 'Attacker group', memberIds: [victimA.id] }),
    conv(attacker, { type: 'direct', memberIds: [victimB.id] }),
    conv(attacker, { type: 'public', title: 'Attacker public', memberIds: [] }),
  ]);

  // Per conversation in order, conversations side by side.
  const victimPlan: Array<[Actor, string, string]> = [
    [victimA, victimGroup, marker('message')],
    [victimB, victimGroup, marker('message')],
    [victimA, victimGroup, marker('message')],
    [victimA, victimDirect, marker('message')],
    [victimB, victimDirect, marker('message')],
    [victimB, victimGroup2, marker('message')],
  ];
  // Arrays in plan order (not completion order): a seed picks the same logical message in every run.
  const victimMessages: World['victimMessages'] = [];
  const attackerMessages: World['attackerMessages'] = [];
  const edited = marker('edited');
  const attackerConvs = [attackerGroup, attackerDirect, attackerPublic];
  await Promise.all([
    ...[victimGroup, victimDirect, victimGroup2].map(async (c) => {
      for (const [i, [who, cc, m]] of victimPlan.entries()) {
        if (cc === c) victimMessages[i] = { conv: c, id: await post(who, c, `secret: ${m}`), sender: who.id };
      }
    }),
    post(victimA, victimPublic, 'welcome, anyone'),
    ...attackerConvs.map(async (c, i) => {
      attackerMessages[i] = { conv: c, id: await post(attacker, c, 'attacker says hi') };
    }),
  ]);
  // One deleted and one edited message: neither the old nor the new text may reach the attacker.
  const lastOfGroup = victimMessages.filter((m) => m.conv === victimGroup).at(-1)!;
  const inDirect = victimMessages.find((m) => m.conv === victimDirect && m.sender === victimA.id)!;
  await Promise.all([
    call('DELETE', `/api/v1/conversations/${victimGroup}/messages/${lastOfGroup.id}`, victimA.token),
    call('PATCH', `/api/v1/conversations/${victimDirect}/messages/${inDirect.id}`, victimA.token, { content: `edited: ${edited}` }),
  ]);

  return {
    runId,
    jwtSecret,
    victims: [victimA, victimB],
    attacker,
    operator,
    victimPrivateConvs: [victimGroup, victimGroup2, victimDirect],
    victimPublicConvs: [victimPublic],
    victimMessages,
    attackerConvs,
    attackerGroups: [attackerGroup],
    attackerMessages,
    markers,
    markerPrefix,
    newMarker: marker,
  };
}
