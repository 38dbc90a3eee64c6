import type { Redis } from 'ioredis';

/**
 * The engine's Redis access: every write and every check-and-write is one of these scripts (one
 * round trip, atomic, so a compare-and-set on the generation cannot interleave with an invalidation).
 *
 * One deliberate exception: the L2 read is a plain HGET, because the L2 hit is the path that must
 * scale and a value passed through Lua is expensive: measured on Redis 7.0 with a 4.4 KB value,
 * returning it from a script costs 45-100 us of Redis CPU per call, a plain HGET about 2 us (and a
 * second command next to the HGET doubled the client's per-hit CPU). A plain read is enough: every
 * entry in a group's hash was stored under the group's current gen (the fill is a CAS on it, and an
 * invalidation drops the hash in the same atomic step as it bumps the gen), and clear() sweeps every
 * hash after bumping the epoch that fills check. Only on a miss does the HEAD script run, before the
 * loader, to record the gen/epoch/time the fill will be checked against. The fill takes the already
 * encoded entry and stores it untouched (a concatenation in Lua doubled its cost).
 *
 * Keys, two per group (the `{group}` hash tag keeps them in one Cluster slot):
 *   ${ns}:{${group}}:e   the group's entries: hash field -> encoded entry (see codec.ts), PEXPIRE ttl
 *   ${ns}:{${group}}:m   the group's coordination state, one small hash:
 *                          g             generation: a new number on every invalidation
 *                          h:<holdId>    a write in progress holds the group until this Redis ms
 *                          i:<instance>  the instance may hold the group in L1 or be loading it, until
 *                                        this Redis ms (its interest, see below)
 *                          x             until when (Redis ms) the hash is kept: its TTL, as last set
 *                        its TTL only ever grows: at least genTtl after a new gen or a hold (and at
 *                        least the hold's own time), interestTtl after a registration.
 *   ${ns}:seq            where invalidations draw their new gens from, INCR; no TTL (one small key)
 *   ${ns}:epoch          global epoch, INCR on clear(); no TTL (one small key)
 *   ${ns}:v4:registry    sorted set instanceId -> lease expiry (Redis ms)
 * Channels: ${ns}:v4:inbox:${instanceId}, one per instance: invalidations and clears addressed to it,
 * acknowledgements of its own, and its lease heartbeats.
 * Why one state hash rather than a key per kind (v3 had a gen string and sorted sets for holds and
 * interest): a 200-member write names every member's keys in its hold and its release, and every
 * key is a command inside the script, an argument the client writes and Redis copies into Lua. With
 * one hash (and gens drawn from one sequence, and the TTL check read with the registrations) a hold
 * costs 3 calls per group instead of 6 and a release 1 instead of 2. Measured on this project's
 * 2-core VM, a 200-group hold, commit and release with one other instance registered (Redis 7.0):
 * Redis CPU 2.2-2.3 ms per write instead of 3.7-3.9, the two processes' 1.3-1.5 ms instead of
 * 1.8-2.6. Hold ids and instance ids are fields, so a release stays idempotent (HDEL).
 * The registry and the channels carry the coordination protocol's version (COORDINATION): instances
 * that would not understand each other's messages never wait for each other's acknowledgements. The
 * entries hash is named `e` since v4, whose generations live elsewhere than v3's: a v3 instance's
 * write does not bump a v4 generation, so the two must not share entries.
 *
 * Interest (what Redis' own CLIENT TRACKING does for the keys a client read, which cannot serve here:
 * it pushes invalidations with no acknowledgement to wait for): on its first read of a group, an
 * instance registers in the group's state hash until Redis now + interestTtl (REGISTER, sent with
 * the plain HGET, not before it: a round trip less), which returns the group's gen. A value the HGET
 * returns with an older gen was read before a write that came between the two and did not tell the
 * instance: it is not used (a miss). Later reads are plain HGETs while the registration is well inside
 * its lifetime (see engine.ts, `registered`). An invalidation or hold messages, and so waits for, only
 * the live instances registered for one of its groups. Whatever an instance keeps in L1 or shares with
 * a concurrent getter, it read while registered, so every later write's message reaches it: an
 * instance that has not read a group's lists for interestTtl costs a write to them nothing. A write
 * never removes a registration: removed, a second write right after the first would find nobody to
 * wait for, while the first one's message is still on its way.
 *
 * Time is always Redis TIME (one clock for every instance). On Redis < 5 a script must call
 * replicate_commands() before writing after TIME; on 7 it is a no-op, so it is called when present.
 * No command option newer than Redis 5 is used (the TTL that only grows is kept with the field x,
 * not with PEXPIRE GT, which needs Redis 7 and would still be a command per group).
 */

const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- a > b for two decimal strings of non-negative integers (the times and gens the scripts write), without
-- tonumber: its strtod costs about a microsecond, per group and field in a 200-group hold.
local function gt(a, b)
  local la, lb = #a, #b
  return la > lb or (la == lb and a > b)
end
-- A state hash's TTL only ever grows: what another instance or another kind of field needs kept must
-- not be cut short. Its field x says until when (Redis ms) it is kept, so the check costs no command
-- of its own: x comes with the fields the script reads anyway. keeping(now, ms) is what keeping the
-- hash ms longer takes, as strings made once per script; kept(x, keep) whether x already covers it.
-- If not, the caller writes keep.x with its own HSET, then PEXPIREs keep.ttl (after the HSET: on a
-- missing key PEXPIRE does nothing). A quarter more than asked, so that a group written again and
-- again extends its TTL once in a while, not on every write.
local function keeping(now, ms)
  local ttl = math.floor(ms * 1.25)
  return { untilS = string.format('%.0f', now + ms), ttl = string.format('%.0f', ttl), x = string.format('%.0f', now + ttl) }
end
local function kept(x, keep)
  return x and not gt(keep.untilS, x)
end
`;

/**
 * KEYS: state, epoch. Returns {gen, epoch, nowMs, held} (a missing gen counts as 0; held = the number
 * of unexpired holds). Run before a load: a load that starts under a hold is never stored. Expired
 * holds (a writer that died before its release) are removed on the way.
 */
const HEAD = `${PRELUDE}
local now = nowms()
local st = redis.call('HGETALL', KEYS[1])
local gen, held = 0, 0
for i = 1, #st, 2 do
  local f = st[i]
  if f == 'g' then gen = tonumber(st[i + 1])
  elseif string.byte(f, 1) == 104 and string.byte(f, 2) == 58 then -- 'h:'
    if tonumber(st[i + 1]) > now then held = held + 1 else redis.call('HDEL', KEYS[1], f) end
  end
end
local ep = tonumber(redis.call('GET', KEYS[2]) or '0')
return {gen, ep, now, held}
`;

/**
 * KEYS: entries, state, epoch.
 * ARGV: field, expectedGen, expectedEpoch, loadStartMs, maxAgeMs, ttlMs, genTtlMs, entry.
 * Stores the entry only if gen and epoch are still those the load started under (a missing gen or
 * epoch counts as 0) and the load is not older than maxAgeMs by Redis time (see engine.ts: a fill
 * delayed across an outage). The entry's header already says gen, epoch and storedAt = loadStartMs (the
 * load's start, never later than the data it holds, so every age check on it errs on the safe side).
 * Returns {1, now} stored, {0, now} gen/epoch moved, {-1, now} too old.
 */
const FILL = `${PRELUDE}
local st = redis.call('HMGET', KEYS[2], 'g', 'x')
local gen = tonumber(st[1] or '0')
local ep = tonumber(redis.call('GET', KEYS[3]) or '0')
local now = nowms()
if gen ~= tonumber(ARGV[2]) or ep ~= tonumber(ARGV[3]) then return {0, now} end
if now - tonumber(ARGV[4]) > tonumber(ARGV[5]) then return {-1, now} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if gen > 0 then
  local keep = keeping(now, tonumber(ARGV[7]))
  if not kept(st[2], keep) then
    redis.call('HSET', KEYS[2], 'x', keep.x)
    redis.call('PEXPIRE', KEYS[2], keep.ttl)
  end
end
return {1, now}
`;

/**
 * KEYS: state. ARGV: instanceId, interestTtlMs.
 * Registers the instance in the group's state until Redis now + interestTtlMs and returns the group's
 * gen (a missing gen counts as 0). Registrations of instances long gone (every process start draws a
 * new id) are pruned once the hash has grown past a few dozen fields.
 */
const REGISTER = `${PRELUDE}
local now = nowms()
local ttl = tonumber(ARGV[2])
local st = redis.call('HMGET', KEYS[1], 'g', 'x')
local keep = keeping(now, ttl)
local registration = string.format('%.0f', now + ttl)
if kept(st[2], keep) then
  redis.call('HSET', KEYS[1], 'i:' .. ARGV[1], registration)
else
  redis.call('HSET', KEYS[1], 'i:' .. ARGV[1], registration, 'x', keep.x)
  redis.call('PEXPIRE', KEYS[1], keep.ttl)
end
if redis.call('HLEN', KEYS[1]) > 32 then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local f = all[i]
    if f ~= 'g' and f ~= 'x' and tonumber(all[i + 1]) <= now then redis.call('HDEL', KEYS[1], f) end
  end
end
return tonumber(st[1] or '0')
`;

/**
 * The live instances but the sender (ARGV[3]): ids, lease expiries, and the fields a group's state
 * hash is read for: x, then the field each of those instances registers under. Read once per script,
 * so a group costs one HMGET, whatever the number of groups.
 */
const LIVE_OTHERS = `
local function live_others(now)
  local reg = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.0f', now), '+inf', 'WITHSCORES')
  local ids, leases, fields = {}, {}, {'x'}
  for i = 1, #reg, 2 do
    if reg[i] ~= ARGV[3] then
      ids[#ids + 1] = reg[i]
      leases[#leases + 1] = reg[i + 1]
      fields[#fields + 1] = 'i:' .. reg[i]
    end
  end
  return ids, leases, fields
end
`;

/**
 * One group of an invalidation: its gen becomes the write's number, more fields are set with it (a
 * hold), its entries are dropped, its TTL is kept (see keeping() in PRELUDE), and every live instance
 * registered in it is marked interested (interested[j] for ids[j]). Three commands, four when the TTL
 * must grow. Every number arrives as a string made once per script (Redis formats a Lua number
 * argument with %.17g: that doubled the cost of HSET).
 */
const BUMP = `
local function bump(state, entries, gen, extra, keep, fields, interested, nowS)
  local st = redis.call('HMGET', state, unpack(fields))
  for j = 2, #fields do
    if not interested[j - 1] and st[j] and gt(st[j], nowS) then interested[j - 1] = true end
  end
  if kept(st[1], keep) then
    redis.call('HSET', state, 'g', gen, unpack(extra))
  else
    redis.call('HSET', state, 'g', gen, 'x', keep.x, unpack(extra))
    redis.call('PEXPIRE', state, keep.ttl)
  end
  redis.call('UNLINK', entries)
end
`;

/**
 * Publishes ARGV[2] to the inbox (channel ARGV[1] .. id) of every instance j with interested[j], and
 * returns {now, id1, lease1, ...} of exactly those: the instances the writer must hear from. Addressed
 * rather than broadcast on one shared channel: the sender does not receive (and parse) its own
 * message, and the instances it waits for are exactly those the message was sent to.
 */
const PUBLISH_TO_INTERESTED = `
local out = {now}
for j = 1, #ids do
  if interested[j] then
    redis.call('PUBLISH', ARGV[1] .. ids[j], ARGV[2])
    out[#out + 1] = ids[j]
    out[#out + 1] = leases[j]
  end
end
return out
`;

/**
 * KEYS: registry, sequence, then (state, entries) per group. ARGV: inbox prefix, message, sender id,
 * genTtlMs.
 * Gives each group a new gen, drops each entries hash, publishes to every live instance registered
 * for one of the groups, and returns those instances with their leases, all atomically: any instance
 * that may hold one of the groups in L1 (or be loading one) and whose lease is live at publish time
 * got it. The new gen is one number drawn from the namespace's sequence for the whole write, rather
 * than a counter per group (a command per group less): gens need only never repeat, and they never do,
 * even for a group whose state hash expired in between.
 */
const INVALIDATE = `${PRELUDE}${LIVE_OTHERS}${BUMP}
local now = nowms()
local nowS, gen = string.format('%.0f', now), string.format('%.0f', redis.call('INCR', KEYS[2]))
local keep = keeping(now, tonumber(ARGV[4]))
local ids, leases, fields = live_others(now)
local interested, none = {}, {}
for i = 3, #KEYS, 2 do bump(KEYS[i], KEYS[i + 1], gen, none, keep, fields, interested, nowS) end
${PUBLISH_TO_INTERESTED}`;

/**
 * KEYS: registry, sequence, then (state, entries) per group.
 * ARGV: inbox prefix, message, sender id, genTtlMs, holdId, holdMs.
 * INVALIDATE, plus a hold per group until Redis now + holdMs (or its release): loads that start
 * meanwhile are not stored, so the write may commit while this runs (see engine.ts, holds).
 */
const HOLD = `${PRELUDE}${LIVE_OTHERS}${BUMP}
local now = nowms()
local nowS, gen = string.format('%.0f', now), string.format('%.0f', redis.call('INCR', KEYS[2]))
local holdMs = tonumber(ARGV[6])
local keep = keeping(now, math.max(tonumber(ARGV[4]), holdMs))
local hold = {'h:' .. ARGV[5], string.format('%.0f', now + holdMs)}
local ids, leases, fields = live_others(now)
local interested = {}
for i = 3, #KEYS, 2 do bump(KEYS[i], KEYS[i + 1], gen, hold, keep, fields, interested, nowS) end
${PUBLISH_TO_INTERESTED}`;

/**
 * KEYS: state per group. ARGV: holdId.
 * Ends a hold (idempotent: a field deleted twice is deleted once). No gen bump: nothing was stored
 * under the hold (loads that started under it are never stored; older ones failed the gen the hold
 * bumped), so what is cached after the release can only come from loads that read the commit. No
 * message either: other instances learn of holds from HEAD, which every load that may be stored runs
 * (see engine.ts). Holds of a writer that died are dropped by HEAD once expired.
 */
const RELEASE = `
local hold = 'h:' .. ARGV[1]
for i = 1, #KEYS do redis.call('HDEL', KEYS[i], hold) end
return 1
`;

/**
 * KEYS: registry, epoch. ARGV: inbox prefix, message, sender id.
 * Bumps the global epoch (every stored entry and every fill in flight becomes void at once; the key
 * sweep that follows only reclaims memory), publishes to every live instance (a clear concerns all of
 * them, registered or not), returns them.
 */
const CLEAR = `${PRELUDE}${LIVE_OTHERS}
redis.call('INCR', KEYS[2])
local now = nowms()
local ids, leases = live_others(now)
local interested = setmetatable({}, { __index = function() return true end })
${PUBLISH_TO_INTERESTED}`;

/**
 * KEYS: registry. ARGV: instanceId, leaseMs, inbox channel, heartbeat payload.
 * Renews this instance's lease, prunes expired ones, then publishes the heartbeat to the instance's
 * own inbox in the same atomic step: receiving it proves the subscription was alive after the
 * renewal (see engine.ts for why the order matters). Returns Redis now.
 */
const RENEW = `${PRELUDE}
local now = nowms()
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], math.max(lease * 10, 60000))
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ':' .. string.format('%.0f', now))
return now
`;

/**
 * Version of the registry/message protocol (2: messages addressed to inboxes, holds end without a
 * message; 3: invalidations go to the instances registered in the groups' interest sets only; 4: a
 * group's gen, holds and registrations in one state hash).
 */
export const COORDINATION = 'v4';

type Arg = string | number | Buffer;

/** The script commands as ioredis adds them (defineCommand also adds the *Buffer variants). */
export interface ScriptCommands {
  cgHead(state: string, epoch: string): Promise<[number, number, number, number]>;
  cgFill(entries: string, state: string, epoch: string, ...args: Arg[]): Promise<[number, number]>;
  cgRegister(state: string, id: string, ttlMs: number): Promise<number>;
  cgInvalidate(numKeys: number, ...keysAndArgs: Arg[]): Promise<[number, ...string[]]>;
  cgHold(numKeys: number, ...keysAndArgs: Arg[]): Promise<[number, ...string[]]>;
  cgRelease(numKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  cgClear(registry: string, epoch: string, inboxPrefix: string, message: string, sender: string): Promise<[number, ...string[]]>;
  cgRenew(registry: string, id: string, leaseMs: number, channel: string, payload: string): Promise<number>;
}

export type ScriptedRedis = Redis & ScriptCommands;

export function defineScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('cgHead', { numberOfKeys: 2, lua: HEAD });
  redis.defineCommand('cgFill', { numberOfKeys: 3, lua: FILL });
  redis.defineCommand('cgRegister', { numberOfKeys: 1, lua: REGISTER });
  redis.defineCommand('cgInvalidate', { lua: INVALIDATE });
  redis.defineCommand('cgHold', { lua: HOLD });
  redis.defineCommand('cgRelease', { lua: RELEASE });
  redis.defineCommand('cgClear', { numberOfKeys: 2, lua: CLEAR });
  redis.defineCommand('cgRenew', { numberOfKeys: 1, lua: RENEW });
  return redis as ScriptedRedis;
}
