"""The Redis store's server-side scripts: each runs atomically on the server, so a read and the
write it decides (a claim, a token, a poll count, an eviction) cannot interleave with another
replica's.

Every script takes the store's key prefix as ``ARGV[1]`` and builds its keys from it (the store
runs against a standalone server or a replica set, not Redis Cluster). The key layout is listed in
:mod:`mockgateway.store._redis_keys`.

Each script opens with Redis 7's flags line. A script that may write is then refused as a whole,
before it runs, while Redis refuses writes (full, read-only, short of replicas); without it, Redis
refused the first write inside the script and kept the writes made before it (a claim took a task
out of the queue and never leased it: its job stayed QUEUED for good). A script that only reads
says so and runs then too; one that only frees or renews (releasing the step lock, a reset,
retention) runs even when Redis is full, so a full Redis can be emptied through the gateway.
"""

from __future__ import annotations

_WRITES = "#!lua\n"  # refused as a whole while Redis refuses writes
_READS = "#!lua flags=no-writes\n"
_FREES = "#!lua flags=allow-oom\n"  # deletes or renews: runs when Redis is full too

# Shared pieces, prepended to the scripts that need them.
_DROP_MEDIA = """
local function drop_media(P, rid)
  local mk = P .. 'm:' .. rid
  local d = redis.call('HGET', mk, 'd')
  if not d then return end
  redis.call('DEL', mk)
  redis.call('ZREM', P .. 'morder', rid)
  if redis.call('HINCRBY', P .. 'mrc', d, -1) <= 0 then
    redis.call('HDEL', P .. 'mrc', d)
    local blob = P .. 'mb:' .. d
    redis.call('DECRBY', P .. 'mbytes', redis.call('STRLEN', blob))
    redis.call('DEL', blob)
  end
end
"""

_FORGET = """
local function forget(P, rid)
  local jc = P .. 'jc:' .. rid
  local f = redis.call('HMGET', jc, 's', 'k')
  local s, k = f[1], f[2]
  if s then
    redis.call('HINCRBY', P .. 'counts', s, -1)
    redis.call('ZREM', P .. 'bys:' .. s, rid)
    if k then
      redis.call('HINCRBY', P .. 'kcounts:' .. k, s, -1)
      redis.call('ZREM', P .. 'byk:' .. k, rid)
    end
  end
  redis.call('DEL', jc, P .. 'j:' .. rid)
  redis.call('ZREM', P .. 'order', rid)
  drop_media(P, rid)
  local dof = P .. 'dof:' .. rid
  for _, id in ipairs(redis.call('LRANGE', dof, 0, -1)) do
    redis.call('DEL', P .. 'd:' .. id)
  end
  local dt = P .. 'dt:' .. rid
  local tally = redis.call('HGETALL', dt)
  for i = 1, #tally, 2 do
    redis.call('HINCRBY', P .. 'douts', tally[i], -tonumber(tally[i + 1]))
  end
  redis.call('DEL', dof, dt)
end
"""

_RETURN_EXPIRED = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function return_expired(P, ms)
  local leased = P .. 'leased'
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', leased, '-inf', ms)) do
    local due = redis.call('HGET', P .. 'tdue', m)
    if due then redis.call('ZADD', P .. 'tasks', due, m) end
    redis.call('ZREM', leased, m)
  end
end
"""

# ARGV: P, rid -> {job json, status, polls, phase polls} or nil
GET_JOB = (
    _READS
    + """
local P, rid = ARGV[1], ARGV[2]
local j = redis.call('GET', P .. 'j:' .. rid)
if not j then return false end
local jc = P .. 'jc:' .. rid
local v = redis.call('HMGET', jc, 's', 'p')
local pp = false
if v[1] then pp = redis.call('HGET', jc, 'pp:' .. v[1]) end
return {j, v[1] or false, v[2] or '0', pp or '0'}
"""
)

# ARGV: P, rid[, key] -> as GET_JOB, the counters first counted up by one; nil, counting
# nothing, for a job of another key than the one given
POLL_JOB = (
    _WRITES
    + """
local P, rid, key = ARGV[1], ARGV[2], ARGV[3]
local jc = P .. 'jc:' .. rid
local s = redis.call('HGET', jc, 's')
if not s then return false end
local j = redis.call('GET', P .. 'j:' .. rid)
if not j then return false end
if key and cjson.decode(j)['key'] ~= key then return false end
local p = redis.call('HINCRBY', jc, 'p', 1)
local pp = redis.call('HINCRBY', jc, 'pp:' .. s, 1)
return {j, s, tostring(p), tostring(pp)}
"""
)

# ARGV: P, max_jobs, cutoff -> jobs forgotten
EVICT = (
    _FREES
    + _DROP_MEDIA
    + _FORGET
    + """
local P, max, cutoff = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ended = P .. 'ended'
local n = 0
while true do
  local first = redis.call('ZRANGE', ended, 0, 0, 'WITHSCORES')
  if #first == 0 then break end
  if redis.call('ZCARD', ended) <= max and tonumber(first[2]) >= cutoff then break end
  redis.call('ZREM', ended, first[1])
  forget(P, string.match(first[1], '|(.*)$') or first[1])
  local marked = tonumber(redis.call('HGET', P .. 'meta', 'forgotten_until') or '0')
  if tonumber(first[2]) > marked then
    redis.call('HSET', P .. 'meta', 'forgotten_until', first[2])
  end
  n = n + 1
end
return n
"""
)

# ARGV: P, rid, digest, data, content type, etag, max bytes -> 1 kept, 0 (no such job)
PUT_MEDIA = (
    _WRITES
    + _DROP_MEDIA
    + """
local P, rid, d, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', P .. 'j:' .. rid) == 0 then return 0 end
drop_media(P, rid)
if redis.call('HINCRBY', P .. 'mrc', d, 1) == 1 then
  redis.call('SET', P .. 'mb:' .. d, data)
  redis.call('INCRBY', P .. 'mbytes', #data)
end
redis.call('HSET', P .. 'm:' .. rid, 'd', d, 't', ARGV[5], 'e', ARGV[6])
redis.call('ZADD', P .. 'morder', redis.call('INCR', P .. 'mseq'), rid)
local max = tonumber(ARGV[7])
while tonumber(redis.call('GET', P .. 'mbytes') or '0') > max
    and redis.call('ZCARD', P .. 'morder') > 1 do
  drop_media(P, redis.call('ZRANGE', P .. 'morder', 0, 0)[1])
end
return 1
"""
)

# ARGV: P, rid -> {content type, etag, data} or nil
GET_MEDIA = (
    _READS
    + """
local P, rid = ARGV[1], ARGV[2]
local v = redis.call('HMGET', P .. 'm:' .. rid, 'd', 't', 'e')
if not v[1] then return false end
local data = redis.call('GET', P .. 'mb:' .. v[1])
if not data then return false end
return {v[2], v[3], data}
"""
)

# ARGV: P, now, limit, lease ms -> {lease end (server ms), member, due, member, due, ...}
CLAIM = (
    _WRITES
    + _RETURN_EXPIRED
    + """
local P, now, limit, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ms = now_ms()
return_expired(P, ms)
local tasks = P .. 'tasks'
local items = redis.call('ZRANGEBYSCORE', tasks, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #items, 2 do
  redis.call('ZREM', tasks, items[i])
  redis.call('ZADD', P .. 'leased', ms + lease, items[i])
end
table.insert(items, 1, ms + lease)
return items
"""
)

# ARGV: P, member, lease end, member, lease end, ... -> tasks given back: their leases end now,
# each only while it is still the claim's (a claim lapsed and taken by another replica is its)
UNCLAIM = (
    _WRITES
    + """
local leased = ARGV[1] .. 'leased'
local n = 0
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', leased, ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', leased, 0, ARGV[i])
    n = n + 1
  end
end
return n
"""
)

# ARGV: P -> the earliest due time (a string) or nil; expired leases come back first
NEXT_DUE = (
    _WRITES
    + _RETURN_EXPIRED
    + """
local P = ARGV[1]
return_expired(P, now_ms())
local first = redis.call('ZRANGE', P .. 'tasks', 0, 0, 'WITHSCORES')
if #first == 0 then return false end
return first[2]
"""
)

# KEYS: bucket; ARGV: rate, burst, now -> nil (a token taken) or the seconds until one is due
TAKE_TOKEN = (
    _WRITES
    + """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(v[1]) or burst
local updated = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
updated = math.max(updated, now)
local wait = false
if tokens >= 1 - 1e-6 then
  tokens = math.max(0, tokens - 1)
else
  wait = string.format('%.17g', (1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens),
  'u', string.format('%.17g', updated))
return wait
"""
)

# KEYS: lock, queue, beats; ARGV: token, ttl ms, stale ms -> 1 taken, 0 (queued, try again).
# Fair across replicas: the lock goes to the longest-waiting live replica (FIFO by first attempt);
# a waiter that stopped asking for ``stale ms`` (it died) is passed over.
ACQUIRE_LOCK = (
    _FREES
    + """
local lock, queue, beats = KEYS[1], KEYS[2], KEYS[3]
local token, ttl, stale = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', lock) == 0 then
  local head = false
  while true do
    local first = redis.call('ZRANGE', queue, 0, 0)[1]
    if not first then break end
    local beat = tonumber(redis.call('HGET', beats, first) or '0')
    if first == token or beat >= now - stale then
      head = first
      break
    end
    redis.call('ZREM', queue, first)
    redis.call('HDEL', beats, first)
  end
  if not head or head == token then
    redis.call('SET', lock, token, 'PX', ttl)
    redis.call('ZREM', queue, token)
    redis.call('HDEL', beats, token)
    return 1
  end
end
redis.call('ZADD', queue, 'NX', now, token)
redis.call('HSET', beats, token, now)
return 0
"""
)

# KEYS: queue, beats; ARGV: token -> a waiter that gave up leaves the queue
LEAVE_QUEUE = (
    _FREES
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""
)

# KEYS: lock; ARGV: token -> 1 released, 0 not ours
RELEASE_LOCK = (
    _FREES
    + """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)

# KEYS: lock; ARGV: token, ttl ms -> 1 renewed, 0 not ours
RENEW_LOCK = (
    _FREES
    + """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
)

# ARGV: P, max entries, max bytes, lost, entry... -> the last seq given. Seqs are taken and the
# entries pushed in one script, so the list is in seq order whichever replica wrote each batch.
JOURNAL_PUSH = (
    _WRITES
    + """
local P, maxn, maxb, lost = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local list = P .. 'jn'
if lost > 0 then redis.call('INCRBY', P .. 'jnseq', lost) end  -- lost entries keep their seqs
local n = #ARGV - 4
local last = redis.call('INCRBY', P .. 'jnseq', n)
local first = last - n + 1
local added = 0
for i = 1, n do
  local item = tostring(first + i - 1) .. '\\t' .. ARGV[i + 4]
  redis.call('RPUSH', list, item)
  added = added + #item
end
local bytes = redis.call('INCRBY', P .. 'jnbytes', added)
local len = redis.call('LLEN', list)
while len > maxn or (len > 1 and bytes > maxb) do
  local gone = redis.call('LPOP', list)
  bytes = redis.call('DECRBY', P .. 'jnbytes', #gone)
  len = len - 1
end
return last
"""
)

# ARGV: P, since, limit (-1: all) -> entries after seq ``since``, oldest first. The list holds
# consecutive seqs, so the first entry's seq places ``since`` in it.
JOURNAL_READ = (
    _READS
    + """
local P, since, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local list = P .. 'jn'
local first = redis.call('LINDEX', list, 0)
if not first then return {} end
local start = math.max(0, since + 1 - tonumber(string.match(first, '^(%d+)')))
local stop = -1
if limit >= 0 then stop = start + limit - 1 end
if limit == 0 then return {} end
return redis.call('LRANGE', list, start, stop)
"""
)

# ARGV: P -> {entries kept, first seq since the last clear, bytes, last seq kept, last seq given}
JOURNAL_STATS = (
    _READS
    + """
local P = ARGV[1]
local list = P .. 'jn'
local last = redis.call('LINDEX', list, -1)
local last_seq = '0'
if last then last_seq = string.match(last, '^(%d+)') end
return {
  redis.call('LLEN', list), redis.call('GET', P .. 'jnfirst') or '1',
  redis.call('GET', P .. 'jnbytes') or '0', last_seq, redis.call('GET', P .. 'jnseq') or '0',
}
"""
)

# ARGV: P -> the entries from here on count as kept since the last clear
JOURNAL_CLEAR = (
    _FREES
    + """
local P = ARGV[1]
redis.call('DEL', P .. 'jn')
redis.call('SET', P .. 'jnbytes', 0)
redis.call('SET', P .. 'jnfirst', tonumber(redis.call('GET', P .. 'jnseq') or '0') + 1)
return 1
"""
)

# ARGV: P, match pattern -> keys removed. Keeps meta, the layout, the step lock and the journal's
# sequence (entries after a reset still number on).
RESET = (
    JOURNAL_CLEAR.replace("return 1\n", "")  # its flags line too
    + """
local keep = {}
for _, name in ipairs({'meta', 'layout', 'lock', 'jnseq', 'jnfirst', 'jnbytes'}) do
  keep[P .. name] = true
end
local cursor, n = '0', 0
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    if not keep[k] then
      redis.call('UNLINK', k)
      n = n + 1
    end
  end
until cursor == '0'
redis.call('HDEL', P .. 'meta', 'forgotten_until')
return n
"""
)
