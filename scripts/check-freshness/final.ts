/**
 * After the load: (1) every list, from every instance, equals the uncached oracle byte for byte;
 * (2) the database holds every acknowledged write (durability), nothing that was refused, and no
 * half-written write (integrity invariants that a partial transaction would break).
 */
import type { Queryable } from '../../src/db/index.js';
import type { Instance } from './gateways.js';
import { acked, allowedValues, mayApply, type Register } from './history.js';
import { nameValue, titleValue, type World } from './model.js';

export interface OracleOutcome {
  compared: number;
  mismatches: string[];
  errors: string[];
}

const VARIANTS = ['limit=100', 'limit=5'];

/** Every user's list (limit 100 and 5), twice per instance (what is cached, then the refill), vs the oracle. */
export async function compareWithOracle(world: World, instances: Instance[], oracle: Instance, rounds = 2): Promise<OracleOutcome> {
  const out: OracleOutcome = { compared: 0, mismatches: [], errors: [] };
  const users = [...world.users.values()];
  const work = users.map((u) => async () => {
    for (const q of VARIANTS) {
      const path = `/api/v1/conversations?${q}`;
      const ref = await oracle.client.request('GET', path, u.token);
      if (ref.status !== 200) {
        out.errors.push(`oracle GET ?${q} as ${u.id}: ${ref.status} ${ref.text.slice(0, 200)}`);
        continue;
      }
      for (const inst of instances) {
        for (let round = 0; round < rounds; round++) {
          const res = await inst.client.request('GET', path, u.token);
          out.compared++;
          if (res.status !== 200) {
            out.errors.push(`instance ${inst.index} GET ?${q} as ${u.id}: ${res.status} ${res.text.slice(0, 200)}`);
            continue;
          }
          if (res.text !== ref.text) {
            out.mismatches.push(`instance ${inst.index} (${res.headers?.get('x-cache')}, read ${round + 1}) GET ?${q} as ${u.id}: ${firstDifference(res.body, ref.body)}`);
          }
        }
      }
    }
  });
  await runLimited(work, 8);
  return out;
}

function firstDifference(got: any, want: any): string {
  if (JSON.stringify(got?.pagination) !== JSON.stringify(want?.pagination)) {
    return `pagination ${JSON.stringify(got?.pagination)} ≠ oracle ${JSON.stringify(want?.pagination)}`;
  }
  const a: any[] = got?.data ?? [];
  const b: any[] = want?.data ?? [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = JSON.stringify(a[i]);
    const y = JSON.stringify(b[i]);
    if (x !== y) {
      if (a[i]?.id !== b[i]?.id) return `item ${i}: conversation ${a[i]?.id} ≠ oracle ${b[i]?.id}`;
      const fields = Object.keys(b[i]).filter((k) => JSON.stringify(a[i][k]) !== JSON.stringify(b[i][k]));
      return `conversation ${b[i].id}: ${fields.map((f) => `${f} ${JSON.stringify(a[i][f])} ≠ oracle ${JSON.stringify(b[i][f])}`).join('; ')}`;
    }
  }
  return 'bytes differ (same parsed content)';
}

async function runLimited(tasks: Array<() => Promise<void>>, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

export interface DbCheckOutcome {
  checked: number;
  failures: string[];
  outboxRows: number;
}

/** Values the register may hold once every write has answered (acknowledged writes must be in). */
function finalValues<V>(reg: Register<V>): Set<V> {
  return allowedValues(reg, (w) => acked(w), Infinity);
}

/** Durability of acknowledged writes, nothing from refused ones, and no half-written transaction. */
export async function verifyDatabase(world: World, db: Queryable): Promise<DbCheckOutcome> {
  const out: DbCheckOutcome = { checked: 0, failures: [], outboxRows: 0 };
  const fail = (m: string) => {
    if (out.failures.length < 50) out.failures.push(m);
  };
  const check = (ok: boolean, m: () => string) => {
    out.checked++;
    if (!ok) fail(m());
  };
  const userIds = [...world.users.keys()];
  const q = async <R>(sql: string, params: unknown[] = []) => (await db.query<R>(sql, params)).rows;
  const users = await q<{ id: string; display_name: string; avatar: string | null }>(
    `SELECT id::text, display_name, avatar FROM users WHERE id = ANY($1::bigint[])`,
    [userIds],
  );
  for (const row of users) {
    const u = world.users.get(row.id)!;
    const v = finalValues(u.name);
    const got = nameValue(row.display_name, row.avatar);
    check(v.has(got), () => `user ${row.id}: profile ${got} not in ${JSON.stringify([...v])}`);
  }

  const convs = await q<{ id: string; type: string; title: string | null; avatar: string | null; created_by: string; direct_key: string | null; member_count: number; last_message_id: string | null; last_message_at: Date | null; created_at: Date }>(
    `SELECT id::text, type, title, avatar, created_by::text, direct_key, member_count, last_message_id::text, last_message_at, created_at
     FROM conversations WHERE created_by = ANY($1::bigint[])`,
    [userIds],
  );
  const convIds = convs.map((c) => c.id);
  const members = await q<{ conversation_id: string; user_id: string; role: string; left_at: Date | null; last_read_message_id: string; sort_at: Date }>(
    `SELECT conversation_id::text, user_id::text, role, left_at, last_read_message_id::text, sort_at
     FROM conversation_members WHERE conversation_id = ANY($1::bigint[])`,
    [convIds],
  );
  const messages = await q<{ id: string; conversation_id: string; sender_id: string; content: string; created_at: Date; edited_at: Date | null; deleted_at: Date | null }>(
    `SELECT id::text, conversation_id::text, sender_id::text, content, created_at, edited_at, deleted_at
     FROM messages WHERE conversation_id = ANY($1::bigint[])`,
    [convIds],
  );
  const byConvMembers = new Map<string, typeof members>();
  for (const m of members) {
    const l = byConvMembers.get(m.conversation_id) ?? [];
    l.push(m);
    byConvMembers.set(m.conversation_id, l);
  }
  const byConvMessages = new Map<string, typeof messages>();
  for (const m of messages) {
    const l = byConvMessages.get(m.conversation_id) ?? [];
    l.push(m);
    byConvMessages.set(m.conversation_id, l);
  }
  const dbConv = new Map(convs.map((c) => [c.id, c]));

  // Every conversation the model knows: existence, title, membership, read markers, messages.
  for (const c of world.convs.values()) {
    const row = dbConv.get(c.id);
    const exists = finalValues(c.exists);
    check(exists.has(row ? 'yes' : 'no'), () => `conversation ${c.id} ${row ? 'exists' : 'is gone'}; allowed ${[...exists].join('|')}`);
    if (!row) continue;
    if (c.type !== 'direct') {
      const v = finalValues(c.title);
      const got = titleValue(row.title ?? '', row.avatar);
      check(v.has(got), () => `conversation ${c.id}: title ${got} not in ${JSON.stringify([...v])}`);
    }
    const rows = byConvMembers.get(c.id) ?? [];
    for (const [u, reg] of c.members) {
      const r = rows.find((x) => x.user_id === u);
      const state = r && r.left_at === null ? 'in' : 'out';
      const v = finalValues(reg);
      check(v.has(state), () => {
        // Every op that named this conversation (not only those the register holds): what a report
        // needs to tell a product bug from a gap in the model.
        const named = world.ops
          .filter((o) => o.convId === c.id)
          .map((o) => `#${o.id} ${o.desc} [${Math.round(o.s)}..${Math.round(o.e)} ms] ${o.status} ${o.http} inst=${o.instance}`);
        return `conversation ${c.id}: member ${u} is ${state}; allowed ${[...v].join('|')}; ops on it: ${named.join('; ')}`;
      });
      if (state === 'in') {
        // Read marker within the bounds of the writes that set it.
        let lo = 0;
        let hi = 0;
        for (const w of c.lastRead.get(u) ?? []) {
          if (!mayApply(w.op)) continue;
          const b = world.lrValue(c, w);
          if (w.certain && w.op.status === 'ok') lo = Math.max(lo, b.lo);
          hi = Math.max(hi, b.hi);
        }
        const got = Number(r!.last_read_message_id);
        check(got >= lo && got <= hi, () => `conversation ${c.id}: read marker of ${u} is ${got}, outside [${lo}, ${hi}]`);
      }
    }
    for (const r of rows) {
      if (r.left_at === null) check(c.members.has(r.user_id), () => `conversation ${c.id}: ${r.user_id} is a member though no write named them`);
    }
    const msgs = byConvMessages.get(c.id) ?? [];
    const dbMsg = new Map(msgs.map((m) => [m.id, m]));
    for (const m of c.messages) {
      const r = dbMsg.get(String(m.id));
      const live = finalValues(m.live);
      const state = !r ? 'absent' : r.deleted_at === null ? 'live' : 'deleted';
      check(live.has(state), () => `message ${m.id} in ${c.id} is ${state}; allowed ${[...live].join('|')}`);
      if (r) {
        const cv = finalValues(m.content);
        check(cv.has(r.content), () => `message ${m.id}: content "${r.content}" not in ${JSON.stringify([...cv])}`);
        check(r.sender_id === m.sender, () => `message ${m.id}: sender ${r.sender_id} ≠ ${m.sender}`);
      }
    }
    // Messages the model never learned: only from posts whose answer was lost.
    for (const r of msgs) {
      if (c.byId.has(Number(r.id))) continue;
      const p = c.unresolvedPosts.find((m) => m.content0 === r.content && m.post.status === 'unknown');
      check(p !== undefined, () => `message ${r.id} ("${r.content}") in ${c.id} comes from no write that may have applied`);
      if (p) world.resolvePost(p, Number(r.id));
    }
  }

  // Conversations the model never learned: only from creates whose answer was lost.
  for (const row of convs) {
    if (world.convs.has(row.id)) continue;
    let ok = false;
    if (row.type === 'direct') {
      const [a, b] = row.direct_key!.split(':');
      const p = world.pairOf(a!, b!);
      ok = !p.conv && p.ops.some((o) => o.status === 'unknown');
    } else {
      ok = [...world.unresolvedCreates].some((o) => o.status === 'unknown' && o.title === row.title && o.actor === row.created_by);
    }
    check(ok, () => `conversation ${row.id} (${row.type} "${row.title}") comes from no write that may have applied`);
  }

  // Integrity: the invariants every complete transaction keeps (a half-written one would break them).
  for (const row of convs) {
    const rows = byConvMembers.get(row.id) ?? [];
    const active = rows.filter((r) => r.left_at === null);
    check(rows.length > 0, () => `conversation ${row.id} has no member rows (created without its members)`);
    check(row.member_count === active.length, () => `conversation ${row.id}: member_count ${row.member_count} ≠ ${active.length} active members`);
    const live = (byConvMessages.get(row.id) ?? []).filter((m) => m.deleted_at === null).sort((a, b) => Number(b.id) - Number(a.id));
    const last = live[0];
    check((row.last_message_id ?? null) === (last?.id ?? null), () => `conversation ${row.id}: last_message_id ${row.last_message_id} ≠ newest live message ${last?.id}`);
    check(
      (row.last_message_at?.getTime() ?? null) === (last?.created_at.getTime() ?? null),
      () => `conversation ${row.id}: last_message_at ${row.last_message_at?.toISOString()} ≠ ${last?.created_at.toISOString()}`,
    );
    const sortAt = (row.last_message_at ?? row.created_at).getTime();
    for (const m of active) {
      check(m.sort_at.getTime() === sortAt, () => `conversation ${row.id}: sort_at of member ${m.user_id} is ${m.sort_at.toISOString()}, not ${new Date(sortAt).toISOString()}`);
    }
    if (row.type === 'group' && active.length > 0) {
      check(active.some((m) => m.role === 'admin'), () => `group ${row.id} has active members but no admin`);
    }
    if (row.type === 'direct') check(rows.length === 2, () => `direct ${row.id} has ${rows.length} member rows`);
  }
  out.outboxRows = Number((await q<{ n: string }>('SELECT count(*)::text AS n FROM cache_invalidations'))[0]!.n);
  return out;
}
