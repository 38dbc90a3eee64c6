import { evilString } from './evil.js';
import type { FuzzRequest } from './generate.js';
import type { Prng } from '../../support/prng.js';
import type { Actor, World } from './world.js';

/**
 * Valid traffic for the phase with writes: the victims keep writing private data (new markers), the
 * attacker writes hostile-but-valid content into their own conversations, the operator clears the cache.
 * Ids that come back are added to the world, so that the hostile requests use them too.
 */
export class ValidOps {
  private n = 0;

  constructor(private readonly world: World) {}

  private req(
    actor: FuzzRequest['actor'],
    who: Actor,
    method: string,
    path: string,
    body?: unknown,
    extra: Partial<FuzzRequest> = {},
  ): FuzzRequest {
    const headers: Record<string, string> = { authorization: `Bearer ${who.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return {
      n: ++this.n,
      category: `valid:${actor}`,
      route: `${method} ${path.replace(/\/[0-9]+(?=\/|$|\?)/g, '/:id').split('?')[0]}`,
      wire: { method, path, headers, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) },
      auth: { kind: actor, header: headers.authorization, validity: 'valid' },
      mustReject: false,
      rejectReason: '',
      expect401: false,
      foreign: [],
      actor,
      ...extra,
    };
  }

  /** Text the contract accepts as a message or title: hostile characters, at most `max` code points, not blank. */
  private validText(rng: Prng, max: number): string {
    for (let i = 0; i < 20; i++) {
      const s = evilString(rng).replace(/\u0000/g, '');
      const trimmed = s.trim();
      if (trimmed.length > 0 && [...trimmed].length <= max && [...s].length <= max) return s;
    }
    return 'plain text';
  }

  next(rng: Prng): FuzzRequest {
    const w = this.world;
    const a = w.attacker;
    const conv = () => rng.pick(w.attackerConvs);
    const victimOp = (): FuzzRequest => {
      const v = rng.pick(w.victims);
      const c = rng.pick(w.victimPrivateConvs);
      return rng.weighted<() => FuzzRequest>([
        [
          5,
          () =>
            this.req('victim', v, 'POST', `/api/v1/conversations/${c}/messages`, { content: `secret: ${w.newMarker('message')}` }, {
              onSuccess: (d) => w.victimMessages.push({ conv: c, id: d.id, sender: v.id }),
            }),
        ],
        [
          2,
          () => {
            const mine = w.victimMessages.filter((m) => m.sender === v.id);
            const m = rng.pick(mine.length ? mine : w.victimMessages);
            return this.req('victim', v, 'PATCH', `/api/v1/conversations/${m.conv}/messages/${m.id}`, { content: `edited: ${w.newMarker('edited')}` });
          },
        ],
        [
          1,
          () => {
            const mine = w.victimMessages.filter((m) => m.sender === v.id);
            const m = rng.pick(mine.length ? mine : w.victimMessages);
            return this.req('victim', v, 'DELETE', `/api/v1/conversations/${m.conv}/messages/${m.id}`);
          },
        ],
        [1, () => this.req('victim', v, 'PATCH', `/api/v1/conversations/${c}`, { title: w.newMarker('title') })],
        [2, () => this.req('victim', v, 'POST', `/api/v1/conversations/${c}/read`, {})],
        [1, () => this.req('victim', v, 'GET', '/api/v1/conversations?limit=100')],
      ])();
    };
    const attackerOp = (): FuzzRequest =>
      rng.weighted<() => FuzzRequest>([
        [
          6,
          () => {
            const c = conv();
            const content = this.validText(rng, 4000);
            return this.req('attacker', a, 'POST', `/api/v1/conversations/${c}/messages`, { content }, {
              roundtrip: { content },
              onSuccess: (d) => w.attackerMessages.push({ conv: c, id: d.id }),
            });
          },
        ],
        [
          2,
          () => {
            const m = rng.pick(w.attackerMessages);
            return this.req('attacker', a, 'PATCH', `/api/v1/conversations/${m.conv}/messages/${m.id}`, { content: this.validText(rng, 4000) });
          },
        ],
        [1, () => {
          const m = rng.pick(w.attackerMessages);
          return this.req('attacker', a, 'DELETE', `/api/v1/conversations/${m.conv}/messages/${m.id}`);
        }],
        [2, () => this.req('attacker', a, 'POST', `/api/v1/conversations/${conv()}/read`, rng.bool() ? {} : { messageId: rng.pick(w.attackerMessages).id })],
        [
          2,
          () => {
            const others = [w.operator.id, ...w.victims.map((v) => v.id)].filter(() => rng.bool(0.6));
            const type = rng.pick(['group', 'public'] as const);
            return this.req('attacker', a, 'POST', '/api/v1/conversations', { type, title: this.validText(rng, 100), memberIds: type === 'group' && others.length === 0 ? [w.operator.id] : others }, {
              onSuccess: (d) => {
                w.attackerConvs.push(d.id);
                if (type === 'group') w.attackerGroups.push(d.id);
              },
            });
          },
        ],
        [
          1,
          () =>
            this.req('attacker', a, 'POST', '/api/v1/conversations', { type: 'direct', memberIds: [rng.pick([w.operator.id, ...w.victims.map((v) => v.id)])] }, {
              onSuccess: (d) => void (w.attackerConvs.includes(d.id) || w.attackerConvs.push(d.id)),
            }),
        ],
        [
          1,
          () => {
            const c = rng.pick(w.victimPublicConvs);
            return this.req('attacker', a, 'POST', `/api/v1/conversations/${c}/join`, undefined, {
              onSuccess: () => void (w.attackerConvs.includes(c) || w.attackerConvs.push(c)),
            });
          },
        ],
        [1, () => this.req('attacker', a, 'POST', `/api/v1/conversations/${rng.pick(w.attackerGroups)}/members`, { userId: rng.pick([w.operator.id, ...w.victims.map((v) => v.id)]) })],
        [1, () => this.req('attacker', a, 'DELETE', `/api/v1/conversations/${rng.pick(w.attackerGroups)}/members/${rng.pick([w.operator.id, ...w.victims.map((v) => v.id)])}`)],
        [1, () => this.req('attacker', a, 'PATCH', `/api/v1/conversations/${rng.pick(w.attackerGroups)}`, rng.bool() ? { title: this.validText(rng, 100) } : { avatar: rng.bool() ? null : this.validText(rng, 2048) })],
        [1, () => this.req('attacker', a, 'PATCH', '/api/v1/users/me', rng.bool() ? { displayName: `${this.validText(rng, 60)}x` } : { avatar: this.validText(rng, 2048) })],
        [
          3,
          () =>
            this.req('attacker', a, 'GET', `/api/v1/conversations?${rng.pick(['limit=100', 'limit=1', 'type=group', 'type=direct', `withUserId=${rng.pick(w.victims).id}`, 'offset=2&limit=2'])}`),
        ],
        [2, () => this.req('attacker', a, 'GET', `/api/v1/conversations/${conv()}/messages?limit=${rng.int(1, 100)}`)],
        [1, () => this.req('attacker', a, 'GET', `/api/v1/conversations/${conv()}`)],
        [0.3, () => this.req('attacker', a, 'POST', '/api/v1/auth/login', { username: a.username.toUpperCase(), password: a.password })],
        [
          0.2,
          () =>
            this.req('attacker', a, 'POST', '/api/v1/auth/register', {
              username: `fzr${rng.u32().toString(36)}`,
              password: 'password-123',
              displayName: `${this.validText(rng, 60)}x`,
            }),
        ],
      ])();
    const operatorOp = (): FuzzRequest =>
      rng.bool(0.7)
        ? this.req('operator', w.operator, 'GET', '/api/v1/admin/cache/stats')
        : this.req('operator', w.operator, 'DELETE', '/api/v1/admin/cache');
    return rng.weighted<() => FuzzRequest>([
      [3, victimOp],
      [6, attackerOp],
      [0.5, operatorOp],
    ])();
  }
}
