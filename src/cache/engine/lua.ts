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
 * Keys (the `{group}` hash tag keeps a group's data and gen in one Cluster slot):
 *   ${ns}:{${group}}:d   hash field -> encoded entry (see codec.ts), PEXPIRE ttl
 *   ${ns}:{${group}}:g   the group's generation, INCR on invalidation, PEXPIRE genTtl
 *   ${ns}:{${group}}:h   holds of writes in progress: sorted set holdId -> expiry (Redis ms)
 *   ${ns}:{${group}}:i   interest: sorted set instanceId -> expiry (Redis ms) of the instances that may
 *                        hold the group in L1 or be loading it, PEXPIRE interestTtl
 *   ${ns}:epoch          global epoch, INCR on clear(); no TTL (one small key)
 *   ${ns}:v3:registry    sorted set instanceId -> lease expiry (Redis ms)
 * Channels: ${ns}:v3:inbox:${instanceId}, one per instance: invalidations and clears addressed to it,
 * acknowledgements of its own, and its lease heartbeats.
 * The registry and the channels carry the coordination protocol's version (COORDINATION): instances
 * that would not understand each other's messages never wait for each other's acknowledgements. Data,
 * generations, holds and the epoch are shared across versions (their format has not changed).
 *
 * Interest (what Redis' own CLIENT TRACKING does for the keys a client read, which cannot serve here:
 * it pushes invalidations with no acknowledgement to wait for): on its first read of a group, an
 * instance adds itself to the group's interest set until Redis now + interestTtl (REGISTER, sent with
 * the plain HGET, not before it: a round trip less), which returns the group's gen. A value the HGET
 * returns with an older gen was read before a write that came between the two and did not tell the
 * instance: it is not used (a miss). Later reads are plain HGETs while the registration is well inside
 * its lifetime (see engine.ts, `registered`). An invalidation or hold messages, and so waits for, only
 * the live instances in the set. Whatever an instance keeps in L1 or shares with a concurrent getter,
 * it read while registered, so every later write's message reaches it: an instance that has not read
 * a group's lists for interestTtl costs a write to them nothing. The set is never emptied by a write:
 * emptied, a second write right after the first would find nobody to wait for, while the first one's
 * message is still on its way.
 *
 * Time is always Redis TIME (one clock for every instance). On Redis < 5 a script must call
 * replicate_commands() before writing after TIME; on 7 it is a no-op, so it is called when present.
 */

const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS: gen, epoch, hold. Returns {gen, epoch, nowMs, held} (a missing key counts as 0; held = the
 * number of unexpired holds). Run before a load: a load that starts under a hold is never stored.
 */
const HEAD = `${PRELUDE}
local gen = tonumber(redis.call('GET', KEYS[1]) or '0')
local ep = tonumber(redis.call('GET', KEYS[2]) or '0')
local now = nowms()
local held = redis.call('ZCOUNT', KEYS[3], string.format('(%.0f', now), '+inf')
return {gen, ep, now, held}
`;

/**
 * KEYS: data, gen, epoch.
 * ARGV: field, expectedGen, expectedEpoch, loadStartMs, maxAgeMs, ttlMs, genTtlMs, entry.
 * Stores the entry only if gen and epoch are still those the load started under (a missing key counts
 * as 0) and the load is not older than maxAgeMs by Redis time (see engine.ts: a fill delayed across
 * an outage). The entry's header already says gen, epoch and storedAt = loadStartMs (the load's start,
 * never later than the data it holds, so every age check on it errs on the safe side).
 * Returns {1, now} stored, {0, now} gen/epoch moved, {-1, now} too old.
 */
const FILL = `${PRELUDE}
local gen = tonumber(redis.call('GET', KEYS[2]) or '0')
local ep = tonumber(redis.call('GET', KEYS[3]) or '0')
local now = nowms()
if gen ~= tonumber(ARGV[2]) or ep ~= tonumber(ARGV[3]) then return {0, now} end
if now - tonumber(ARGV[4]) > tonumber(ARGV[5]) then return {-1, now} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if gen > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[7]) end
return {1, now}
`;

/**
 * Adds the unexpired members of the interest set KEYS[k] to the table `interested` (id -> true). The
 * set is left as it is: a member stays until its own expiry, so every later write reaches it too.
 */
const COLLECT_INTEREST = `
local function collect(interested, k, now)
  local ids = redis.call('ZRANGEBYSCORE', KEYS[k], string.format('(%.0f', now), '+inf')
  for _, id in ipairs(ids) do interested[id] = true end
end
`;

/**
 * KEYS: gen, interest. ARGV: instanceId, interestTtlMs.
 * Registers the instance in the group's interest set until Redis now + interestTtlMs (pruning expired
 * members) and returns the group's gen (a missing key counts as 0). The key's TTL only ever grows:
 * an instance configured with a shorter TTL must not cut another's registration short.
 */
const REGISTER = `${PRELUDE}
local now = nowms()
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return tonumber(redis.call('GET', KEYS[1]) or '0')
`;

/**
 * Publishes ARGV[2] to the inbox (channel ARGV[1] .. id) of every live instance in `interested` but the
 * sender ARGV[3], and returns {now, id1, expiry1, ...} of exactly those: the instances the writer must
 * hear from. Addressed rather than broadcast on one shared channel: the sender does not receive (and
 * parse) its own message, and the instances it waits for are exactly those the message was sent to.
 */
const PUBLISH_TO_INTERESTED = `
local now = nowms()
local reg = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('(%.0f', now), '+inf', 'WITHSCORES')
local out = {now}
for i = 1, #reg, 2 do
  if interested[reg[i]] and reg[i] ~= ARGV[3] then
    redis.call('PUBLISH', ARGV[1] .. reg[i], ARGV[2])
    out[#out + 1] = reg[i]
    out[#out + 1] = reg[i + 1]
  end
end
return out
`;

/**
 * KEYS: registry, then (gen, data, interest) per group. ARGV: inbox prefix, message, sender id, genTtlMs.
 * Bumps each gen, drops each data hash, publishes to every live instance registered in one of the
 * interest sets, and returns those instances with their leases, all atomically: any instance that may
 * hold one of the groups in L1 (or be loading one) and whose lease is live at publish time got it.
 */
const INVALIDATE = `${PRELUDE}${COLLECT_INTEREST}
local t = nowms()
local interested = {}
for i = 2, #KEYS, 3 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
  redis.call('UNLINK', KEYS[i + 1])
  collect(interested, i + 2, t)
end
${PUBLISH_TO_INTERESTED}`;

/**
 * KEYS: registry, then (gen, data, hold, interest) per group.
 * ARGV: inbox prefix, message, sender id, genTtlMs, holdId, holdMs.
 * INVALIDATE, plus a hold per group until Redis now + holdMs (or its release): loads that start
 * meanwhile are not stored, so the write may commit while this runs (see engine.ts, holds).
 */
const HOLD = `${PRELUDE}${COLLECT_INTEREST}
local t = nowms()
local expiry = t + tonumber(ARGV[6])
local interested = {}
for i = 2, #KEYS, 4 do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
  redis.call('UNLINK', KEYS[i + 1])
  redis.call('ZADD', KEYS[i + 2], expiry, ARGV[5])
  redis.call('PEXPIRE', KEYS[i + 2], ARGV[6])
  collect(interested, i + 3, t)
end
${PUBLISH_TO_INTERESTED}`;

/**
 * KEYS: hold per group. ARGV: holdId.
 * Ends a hold (and prunes expired ones: a writer that died). No gen bump: nothing was stored under the
 * hold (loads that started under it are never stored; older ones failed the gen the hold bumped), so
 * what is cached after the release can only come from loads that read the commit. No message either:
 * other instances learn of holds from HEAD, which every load that may be stored runs (see engine.ts).
 */
const RELEASE = `${PRELUDE}
local now = nowms()
for i = 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
end
return 1
`;

/**
 * KEYS: registry, epoch. ARGV: inbox prefix, message, sender id.
 * Bumps the global epoch (every stored entry and every fill in flight becomes void at once; the key
 * sweep that follows only reclaims memory), publishes to every live instance (a clear concerns all of
 * them, registered or not), returns them.
 */
const CLEAR = `${PRELUDE}
redis.call('INCR', KEYS[2])
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
 * message; 3: invalidations go to the instances registered in the groups' interest sets only).
 */
export const COORDINATION = 'v3';

type Arg = string | number | Buffer;

/** The script commands as ioredis adds them (defineCommand also adds the *Buffer variants). */
export interface ScriptCommands {
  cgHead(gen: string, epoch: string, hold: string): Promise<[number, number, number, number]>;
  cgFill(data: string, gen: string, epoch: string, ...args: Arg[]): Promise<[number, number]>;
  cgRegister(gen: string, interest: string, id: string, ttlMs: number): Promise<number>;
  cgInvalidate(numKeys: number, ...keysAndArgs: Arg[]): Promise<[number, ...string[]]>;
  cgHold(numKeys: number, ...keysAndArgs: Arg[]): Promise<[number, ...string[]]>;
  cgRelease(numKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
  cgClear(registry: string, epoch: string, inboxPrefix: string, message: string, sender: string): Promise<[number, ...string[]]>;
  cgRenew(registry: string, id: string, leaseMs: number, channel: string, payload: string): Promise<number>;
}

export type ScriptedRedis = Redis & ScriptCommands;

export function defineScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('cgHead', { numberOfKeys: 3, lua: HEAD });
  redis.defineCommand('cgFill', { numberOfKeys: 3, lua: FILL });
  redis.defineCommand('cgRegister', { numberOfKeys: 2, lua: REGISTER });
  redis.defineCommand('cgInvalidate', { lua: INVALIDATE });
  redis.defineCommand('cgHold', { lua: HOLD });
  redis.defineCommand('cgRelease', { lua: RELEASE });
  redis.defineCommand('cgClear', { numberOfKeys: 2, lua: CLEAR });
  redis.defineCommand('cgRenew', { numberOfKeys: 1, lua: RENEW });
  return redis as ScriptedRedis;
}
