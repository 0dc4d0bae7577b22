-- Claims up to n refs for a worker, after returning expired leases and due retries.
-- KEYS: pending leased owner delayed attempts seq paused
-- ARGV: now n token deadline
-- Returns {member, attempts, member, attempts, ...}.
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local token = ARGV[3]
local deadline = tonumber(ARGV[4])
-- Expired leases (a crashed or cut-off worker's refs) go back in line; a crash is not a
-- failure, so the count stays. A push that waited beside the lease is new work: it keeps
-- its place and starts a fresh count.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  if redis.call('ZSCORE', KEYS[1], m) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[6]), m)
  else
    redis.call('HDEL', KEYS[5], m)
  end
end
-- Backoff over: due refs rejoin the line.
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[4], m)
  if redis.call('ZSCORE', KEYS[1], m) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[6]), m)
  end
end
if redis.call('EXISTS', KEYS[7]) == 1 then
  return {}
end
local out = {}
local skipped = 0
while #out < 2 * n do
  local want = n - #out / 2
  local batch = redis.call('ZRANGE', KEYS[1], skipped, skipped + want - 1)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    -- A ref still leased (pushed again while being processed) waits for its lease to end.
    if redis.call('ZSCORE', KEYS[2], m) == false then
      redis.call('ZREM', KEYS[1], m)
      redis.call('ZADD', KEYS[2], deadline, m)
      redis.call('HSET', KEYS[3], m, token)
      -- A count that is not a small whole number (a hand edit, a bug) reads as none.
      local a = tonumber(redis.call('HGET', KEYS[5], m))
      if a == nil or not (a >= 0 and a < 1e9) then a = 0 end
      table.insert(out, m)
      table.insert(out, string.format('%d', math.floor(a)))
    else
      skipped = skipped + 1
    end
  end
  if skipped > 10000 then break end
end
return out
