/**
 * The Redis side of the Redis broker: key names and the two Lua scripts. Each script runs
 * atomically in Redis, which is what makes every node agree: one script numbers an envelope,
 * stores it and fans it out in a single step, so the order of fan-out is the order of ids.
 *
 * Per channel (the `{channel}` hash tag keeps both keys in one cluster slot):
 * - `<prefix>{<channel>}:meta`, a hash: `e` the epoch, `s` the last sequence of that epoch.
 *   It outlives the history (`idleTtlMs`): a quiet channel keeps its numbering, so a client
 *   that comes back after the history expired gets a `gap`, not a position mistaken for new.
 * - `<prefix>{<channel>}:history`, a stream of `<seq>-0` entries `{ t: ts, e: envelope JSON }`,
 *   bounded by count (`MAXLEN`) and age (trimmed on publish, filtered on read, and the whole
 *   key expires `maxAgeMs` after the last publish).
 * - Fan-out on the pub/sub channel `<prefix>fanout:<channel>`, which only nodes with
 *   subscribers of that channel listen to.
 *
 * Time is Redis's (`TIME`), so every node stamps and ages envelopes by one clock.
 *
 * @module
 */

/** Key names of one channel. */
export interface ChannelKeys {
  readonly meta: string;
  readonly history: string;
  readonly fanout: string;
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  return {
    meta: `${prefix}{${channel}}:meta`,
    history: `${prefix}{${channel}}:history`,
    fanout: fanoutChannel(prefix, channel),
  };
}

export function fanoutChannel(prefix: string, channel: string): string {
  return `${prefix}fanout:${channel}`;
}

// Shared by both scripts: the clock in ms as text (exact, no float formatting), and a fresh
// epoch when the channel has none. A new epoch starts a new history: a stream left from an
// older epoch (its meta was evicted) would refuse the restarted ids.
const PRELUDE = `
local meta, history = KEYS[1], KEYS[2]
local clock = redis.call('TIME')
local ts = clock[1] .. string.format('%03d', math.floor(tonumber(clock[2]) / 1000))
local now = tonumber(ts)
if redis.call('HSETNX', meta, 'e', ARGV[1]) == 1 then redis.call('DEL', history) end
`;

/**
 * Publishes one envelope. KEYS: meta, history. ARGV: candidate epoch, channel JSON, event
 * JSON, data JSON, binary suffix (`,"binary":true` or empty), max count, max age ms, idle TTL
 * ms, fan-out channel. Returns `{ id, ts }`.
 *
 * The envelope's JSON is assembled from pieces the node encoded, so Redis never re-encodes
 * the data (Lua's cjson would change numbers and empty arrays).
 */
export const PUBLISH_SCRIPT = `${PRELUDE}
local epoch = redis.call('HGET', meta, 'e')
local seq = string.format('%d', redis.call('HINCRBY', meta, 's', 1))
local id = epoch .. '-' .. seq
local envelope = '{"id":"' .. id .. '","channel":' .. ARGV[2] .. ',"event":' .. ARGV[3] ..
  ',"data":' .. ARGV[4] .. ',"ts":' .. ts .. ARGV[5] .. '}'
redis.call('XADD', history, 'MAXLEN', ARGV[6], seq .. '-0', 't', ts, 'e', envelope)
-- Trim by age from the oldest end. Most publishes find the oldest entry fresh: look at it
-- alone first (a batch read would copy 64 envelopes into Lua on every publish). The entry
-- just added is fresh, so the loop ends.
local cutoff = now - tonumber(ARGV[7])
local oldest = redis.call('XRANGE', history, '-', '+', 'COUNT', 1)[1]
if tonumber(oldest[2][2]) < cutoff then
  repeat
    local head = redis.call('XRANGE', history, '-', '+', 'COUNT', 64)
    local stale = 0
    for _, entry in ipairs(head) do
      if tonumber(entry[2][2]) >= cutoff then break end
      stale = stale + 1
    end
    if stale > 0 then
      local after = tonumber(string.match(head[stale][1], '^(%d+)')) + 1
      redis.call('XTRIM', history, 'MINID', string.format('%d', after) .. '-0')
    end
  until stale < 64
end
redis.call('PEXPIRE', history, ARGV[7])
redis.call('PEXPIRE', meta, ARGV[8])
redis.call('PUBLISH', ARGV[9], envelope)
return { id, ts }
`;

/**
 * Reads a channel. KEYS: meta, history. ARGV: candidate epoch, since epoch (empty: no
 * since), since seq, max age ms, idle TTL ms. Returns `{ epoch, top, envelope JSON... }`:
 * the envelopes held after `since` (all of them when `since` is of another epoch).
 *
 * A read also keeps the channel's numbering alive: for `idleTtlMs` when it has envelopes,
 * for `maxAgeMs` when none was ever published (a poll on a name nobody uses costs little).
 */
export const READ_SCRIPT = `${PRELUDE}
local state = redis.call('HMGET', meta, 'e', 's')
local epoch = state[1]
local top = 0
if state[2] then top = tonumber(state[2]) end
if top == 0 then
  if redis.call('PTTL', meta) < tonumber(ARGV[4]) then redis.call('PEXPIRE', meta, ARGV[4]) end
else
  redis.call('PEXPIRE', meta, ARGV[5])
end
local result = { epoch, string.format('%d', top) }
if ARGV[2] == '' or top == 0 then return result end
local start = '-'
if ARGV[2] == epoch then
  local since = tonumber(ARGV[3])
  if since >= top then return result end
  start = string.format('%d', since + 1) .. '-0'
end
local cutoff = now - tonumber(ARGV[4])
for _, entry in ipairs(redis.call('XRANGE', history, start, '+')) do
  if tonumber(entry[2][2]) >= cutoff then result[#result + 1] = entry[2][4] end
end
return result
`;
