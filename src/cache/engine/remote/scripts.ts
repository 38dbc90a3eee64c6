import type { Result } from 'ioredis';
import type { RedisConnection } from './client.js';

/**
 * The engine's Redis scripts. Every script touches keys of one hash slot only, so that the same code
 * runs on one Redis and on a Redis Cluster:
 *
 *   ${ns}:{<kind>:<id>}        a piece: hash  v = version, t = Redis ms its data was read from the source
 *                              (never later than the truth), d = stored bytes (codec.ts); PEXPIRE ttl
 *   ${ns}:{coord}:registry     sorted set instanceId -> lease expiry (Redis ms)
 *   ${ns}:{coord}:settlers     sorted set instanceId -> expiry: live instances that want to hear when a
 *                              write has been applied everywhere (they push to clients, see publisher.ts)
 *   ${ns}:{coord}:journal      stream of notes (field n), trimmed by age
 *   ${ns}:{coord}:seq          hash  instanceId -> number of the last message published to its inbox
 *   ${ns}:{coord}:jmeta        hash  epoch = journal epoch (made from the clock when the hash is missing;
 *                              a clear or an unjournaled write starts a new one), floor = id of the
 *                              newest note trimmed (a position before it may have missed notes),
 *                              trimmed = Redis ms of the last trim
 * Channels (not bound to slots): ${ns}:inbox:<instanceId>, one per instance: other instances' writes
 * and clears, acks of its own writes, its lease heartbeats. A write is published to each live
 * instance's inbox but the writer's (one PUBLISH each, inside the script): the writer never receives
 * its own messages. Every message a script publishes starts with `#<seq>:<redis now>;`, seq counting
 * that inbox's messages one by one: a subscriber that sees a number skipped knows it missed one (on a
 * cluster, PUBLISH crosses the cluster bus, and ioredis moves a subscriber whose node failed to
 * another node without telling: what was published meanwhile is lost while heartbeats go on).
 *
 * Reads are plain HMGETs, not scripts: a value passed through Lua costs Redis many times what a plain
 * read does, and the read path is the one that must scale.
 *
 * Time is always Redis TIME (one clock for every instance).
 */
const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * The journal's epoch, made on first use from the server's clock. A journal that Redis lost (a
 * restart without persistence, an eviction) comes back with a new epoch, so that positions into the
 * lost one are refused rather than read on as if no note had been lost in between.
 */
const JOURNAL_EPOCH = `
local function journalEpoch(jmeta)
  local e = redis.call('HGET', jmeta, 'epoch')
  if e then return e end
  local t = redis.call('TIME')
  e = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
  redis.call('HSET', jmeta, 'epoch', e)
  return e
end
`;

/**
 * INSTALL piece version t ttl data: stores the piece unless a newer version is there (the same
 * version is stored again: it is the same truth, and its t may be newer). t '' means "now".
 * Returns 1 stored, 0 refused (a newer version is there).
 */
const INSTALL = `${PRELUDE}
local ver = tonumber(ARGV[1])
local cur = redis.call('HGET', KEYS[1], 'v')
if cur and tonumber(cur) > ver then return 0 end
local t = ARGV[2]
if t == '' then t = nowms() end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', t, 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * RENEW registry settlers seq | id leaseMs inbox payload settles: the lease (ZADD expiry = now +
 * lease) and its heartbeat (PUBLISH to our own inbox, numbered), atomically: whatever expiry a writer
 * reads, the heartbeat that proves our bus alive after it comes later on our subscription (see
 * coherence/lease.ts). `settles` '1': we want settlement messages (kept as long as the lease).
 * Prunes instances gone for a minute. Returns Redis now.
 */
const RENEW = `${PRELUDE}
local now = nowms()
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - 60000)) do
  redis.call('ZREM', KEYS[1], gone)
  redis.call('HDEL', KEYS[3], gone)
end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local seq = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('PUBLISH', ARGV[3], '#' .. seq .. ':' .. now .. ';' .. ARGV[4] .. ':' .. now)
return now`;

/**
 * BROADCAST registry journal jmeta settlers seq | prefix sender message journal? note retentionMs:
 * journals the note (XADD; at most once a second, the notes older than retentionMs are dropped and the
 * newest dropped one becomes the floor), publishes `<position>\\n<message>` to the inbox (prefix .. id)
 * of every live instance but the sender, and returns {now, position, settle, id1, expiry1, ...}:
 * whether another live instance wants settlement messages, and the live instances the writer then
 * waits for. Reading the registry and publishing in one step: an instance whose lease a writer reads
 * as expired cannot receive this message and still trust its L1 (it lapsed first).
 */
const BROADCAST = `${PRELUDE}${JOURNAL_EPOCH}
local now = nowms()
local pos = ''
if ARGV[4] == '1' then
  local epoch = journalEpoch(KEYS[3])
  local meta = redis.call('HMGET', KEYS[3], 'trimmed')
  local id = redis.call('XADD', KEYS[2], '*', 'n', ARGV[5])
  if tonumber(meta[1] or '0') < now - 1000 then
    redis.call('HSET', KEYS[3], 'trimmed', now)
    local minid = now - tonumber(ARGV[6])
    -- The floor is a note that existed, not a time: a position taken on an empty or quiet journal
    -- missed nothing until notes after it are actually dropped.
    local newest = redis.call('XREVRANGE', KEYS[2], '(' .. minid .. '-0', '-', 'COUNT', 1)
    if #newest > 0 then
      redis.call('XTRIM', KEYS[2], 'MINID', minid)
      redis.call('HSET', KEYS[3], 'floor', newest[1][1])
    end
  end
  pos = epoch .. ':' .. id
end
local payload = pos .. '\\n' .. ARGV[3]
local settle = 0
for _, s in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], now, '+inf')) do
  if s ~= ARGV[2] then settle = 1 end
end
local out = {now, pos, settle}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  if live[i] ~= ARGV[2] then
    local seq = redis.call('HINCRBY', KEYS[5], live[i], 1)
    redis.call('PUBLISH', ARGV[1] .. live[i], '#' .. seq .. ':' .. now .. ';' .. payload)
    out[#out + 1] = live[i]
    out[#out + 1] = live[i + 1]
  end
end
return out`;

/** JHEAD journal jmeta: the position of the newest note ('<epoch>:0-0' when empty). */
const JOURNAL_HEAD = `${PRELUDE}${JOURNAL_EPOCH}
local epoch = journalEpoch(KEYS[2])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 then return epoch .. ':0-0' end
return epoch .. ':' .. last[1][1]`;

/**
 * JREAD journal jmeta | epoch after count rewindMs: notes after stream id `after` (exclusive), or from
 * rewindMs before it (never before the floor), at most count. Returns {0} when the epoch differs, when
 * notes after `after` may have been trimmed (it is before the floor), or when `after` is past the
 * newest note (not a position this journal gave); otherwise {1, id1, note1, ...}. A floor of an
 * earlier layout is a bare ms (read as ms-0).
 */
const JOURNAL_READ = `
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'floor')
if meta[1] == false or meta[1] ~= ARGV[1] then return {0} end
local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
if not ms then return {0} end
local fms, fseq = string.match(meta[2] or '0', '^(%d+)-?(%d*)$')
fms = tonumber(fms or '0')
fseq = tonumber(fseq) or 0
if tonumber(ms) < fms or (tonumber(ms) == fms and tonumber(seq) < fseq) then return {0} end
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local nms, nseq = 0, 0
if #newest > 0 then
  local a, b = string.match(newest[1][1], '^(%d+)-(%d+)$')
  nms, nseq = tonumber(a), tonumber(b)
end
if tonumber(ms) > nms or (tonumber(ms) == nms and tonumber(seq) > nseq) then return {0} end
local start = ms .. '-' .. (tonumber(seq) + 1)
local rewind = tonumber(ARGV[4])
if rewind > 0 then
  local from = tonumber(ms) - rewind
  if from > fms then start = from .. '-0' else start = fms .. '-' .. (fseq + 1) end
end
local rows = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[3])
local out = {1}
for i = 1, #rows do
  out[#out + 1] = rows[i][1]
  out[#out + 1] = rows[i][2][2]
end
return out`;

/** JRESET jmeta: a new journal epoch (positions from before are refused). */
const JOURNAL_RESET = `${PRELUDE}${JOURNAL_EPOCH}
journalEpoch(KEYS[1])
return redis.call('HINCRBY', KEYS[1], 'epoch', 1)`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    cgInstall(key: string, version: string, t: string, ttlMs: number, data: Buffer): Result<number, Context>;
    cgRenew(registry: string, settlers: string, seq: string, id: string, leaseMs: number, inbox: string, payload: string, settles: '0' | '1'): Result<number, Context>;
    cgBroadcast(
      registry: string,
      journal: string,
      jmeta: string,
      settlers: string,
      seq: string,
      inboxPrefix: string,
      sender: string,
      message: Buffer,
      journaled: '0' | '1',
      note: Buffer,
      retentionMs: number,
    ): Result<Array<string | number>, Context>;
    cgJournalHead(journal: string, jmeta: string): Result<string, Context>;
    cgJournalRead(journal: string, jmeta: string, epoch: string, after: string, count: number, rewindMs: number): Result<Array<number | string | Buffer>, Context>;
    cgJournalReadBuffer(journal: string, jmeta: string, epoch: string, after: string, count: number, rewindMs: number): Result<Array<number | Buffer>, Context>;
    cgJournalReset(jmeta: string): Result<number, Context>;
  }
}

export function defineScripts<C extends RedisConnection>(r: C): C {
  r.defineCommand('cgInstall', { numberOfKeys: 1, lua: INSTALL });
  r.defineCommand('cgRenew', { numberOfKeys: 3, lua: RENEW });
  r.defineCommand('cgBroadcast', { numberOfKeys: 5, lua: BROADCAST });
  r.defineCommand('cgJournalHead', { numberOfKeys: 2, lua: JOURNAL_HEAD });
  r.defineCommand('cgJournalRead', { numberOfKeys: 2, lua: JOURNAL_READ });
  r.defineCommand('cgJournalReset', { numberOfKeys: 1, lua: JOURNAL_RESET });
  return r;
}
