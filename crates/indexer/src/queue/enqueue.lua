-- Pushes refs: "this changed, (re)index it".
-- KEYS: pending since seq delayed leased attempts dead dead_error
-- ARGV: now member...
-- Returns how many refs got a new entry in line.
--
-- A push is new work, so it always gets the full attempt budget:
-- - waiting in line: keeps its one entry and its place, its count starts over;
-- - in backoff: stays there (its retry reads the newest state), its count starts over;
-- - dead: back in line, out of the dead letters;
-- - leased: waits in line beside the lease; the count still belongs to the running
--   attempt, and whatever ends that attempt (ack, fail, release, expiry) gives the
--   waiting push its fresh count.
local now = tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV do
  local m = ARGV[i]
  if redis.call('ZSCORE', KEYS[5], m) == false then
    redis.call('HDEL', KEYS[6], m)
  end
  if redis.call('ZREM', KEYS[7], m) == 1 then
    redis.call('HDEL', KEYS[8], m)
  end
  if redis.call('ZSCORE', KEYS[1], m) == false and redis.call('ZSCORE', KEYS[4], m) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[3]), m)
    added = added + 1
  end
  redis.call('ZADD', KEYS[2], 'NX', now, m)
end
return added
