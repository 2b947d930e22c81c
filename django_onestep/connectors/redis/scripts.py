"""Lua scripts that make each multi-step stream operation atomic on the server.

Why scripts instead of MULTI: every settle step is conditional ("re-add only if *our*
XACK removed the entry", "reset the idle time only if we still own it", "delete a
consumer only if its pending list is empty"). A script runs alone on the server, so no
other worker can act between the check and the change, and a crash between two steps
cannot lose or duplicate an entry.

All scripts read the server's clock (``TIME``) so that workers with skewed clocks agree
on when a delayed retry is due. Redis >= 7.0 (effects replication) allows that.
"""

from __future__ import annotations

__all__ = [
    "ADD_MANY",
    "CLAIM_IDLE",
    "CLAIM_OWN",
    "DEAD_LETTER",
    "GC_CONSUMERS",
    "HEARTBEAT",
    "MOVE_DUE",
    "REQUEUE",
]

# Shared Lua helpers: server time in ms, XADD with the optional MAXLEN cap.
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function xadd(stream, payload, maxlen, approx)
  if tonumber(maxlen) > 0 then
    if approx == '1' then
      return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'body', payload)
    end
    return redis.call('XADD', stream, 'MAXLEN', maxlen, '*', 'body', payload)
  end
  return redis.call('XADD', stream, '*', 'body', payload)
end
"""

# KEYS: stream. ARGV: maxlen, approx, payloads...
# Bulk enqueue: one command carries hundreds of entries, so the client packs and parses
# one request instead of hundreds (2x the entries/s of a plain XADD pipeline here).
ADD_MANY = (
    _PRELUDE
    + """
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = xadd(KEYS[1], ARGV[i], ARGV[1], ARGV[2]) end
return ids
"""
)

# KEYS: stream. ARGV: group, consumer, min_idle_ms, cursor, count.
# XAUTOCLAIM plus each claimed entry's delivery count (XAUTOCLAIM does not return it, and
# attempts are derived from it). Returns {next_cursor, {{id, fields, deliveries}...}, deleted}.
CLAIM_IDLE = """
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local out = {}
for _, e in ipairs(r[2]) do
  if e then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    local n = 1
    if p[1] then n = p[1][4] end
    out[#out + 1] = {e[1], e[2], n}
  end
end
return {r[1], out, r[3] or {}}
"""

# KEYS: stream. ARGV: group, consumer, count.
# Take back this consumer's own pending entries at once (a restarted worker with the same
# consumer name: its previous incarnation is dead, no need to wait for the idle time).
# Entries trimmed away meanwhile are dropped from the pending list by XCLAIM itself.
CLAIM_OWN = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', ARGV[3], ARGV[2])
local out = {}
for _, row in ipairs(p) do
  local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, row[1])
  if c[1] then out[#out + 1] = {c[1][1], c[1][2], row[4] + 1} end
end
return out
"""

# KEYS: stream, delayed zset. ARGV: group, entry id, payload, delay_ms, maxlen, approx.
# Settle one entry by putting a new copy back: at once (XADD) or later (ZADD, the mover
# re-adds it when due). Only if XACK removed the entry: if someone else settled it first
# (it was reclaimed after we stalled), adding a copy would duplicate it.
REQUEUE = (
    _PRELUDE
    + """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local delay = tonumber(ARGV[4])
if delay <= 0 then
  xadd(KEYS[1], ARGV[3], ARGV[5], ARGV[6])
else
  -- the original id keeps members unique; the mover strips it
  redis.call('ZADD', KEYS[2], now_ms() + delay, ARGV[2] .. '|' .. ARGV[3])
end
return 1
"""
)

# KEYS: stream, dead-letter stream. ARGV: group, entry id, payload, maxlen, approx.
# Terminal failure into a dead-letter stream on the same server: the ack and the dead
# letter happen together, so a crash cannot write the dead letter twice (or not at all).
DEAD_LETTER = (
    _PRELUDE
    + """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
xadd(KEYS[2], ARGV[3], ARGV[4], ARGV[5])
return 1
"""
)

# KEYS: stream, delayed zset. ARGV: limit, maxlen, approx.
# Move due delayed retries into the stream. Returns {moved, ms until the next one or -1}.
MOVE_DUE = (
    _PRELUDE
    + """
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  local cut = string.find(m, '|', 1, true)
  xadd(KEYS[1], string.sub(m, cut + 1), ARGV[2], ARGV[3])
  redis.call('ZREM', KEYS[2], m)
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if nxt[2] then return {#due, math.max(0, tonumber(nxt[2]) - now)} end
return {#due, -1}
"""
)

# KEYS: stream. ARGV: group, consumer, ids...
# Reset the idle time of the entries we are still working on, so XAUTOCLAIM elsewhere
# leaves them alone (a lease extension). JUSTID does not bump the delivery count. An
# entry another consumer took over is not stolen back; it is returned as lost.
HEARTBEAT = """
local mine = {}
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then mine[#mine + 1] = ARGV[i] else lost[#lost + 1] = ARGV[i] end
end
if #mine > 0 then
  local args = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
  for _, id in ipairs(mine) do args[#args + 1] = id end
  args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
return lost
"""

# KEYS: stream. ARGV: group, own consumer name, min idle ms.
# Delete consumers that left nothing pending and were idle that long (restarted workers
# otherwise leave a trail of dead names). The pending check and the delete are one atomic
# step, so no pending entry can be dropped with its consumer.
GC_CONSUMERS = """
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for j = 1, #c, 2 do f[c[j]] = c[j + 1] end
  if f['name'] ~= ARGV[2] and tonumber(f['pending']) == 0 and tonumber(f['idle']) > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed[#removed + 1] = f['name']
  end
end
return removed
"""
