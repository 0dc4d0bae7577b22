-- Records a failed attempt of a ref the token holds.
-- KEYS: leased owner attempts delayed dead dead_error pending since
-- ARGV: token member now max_attempts retry_at error
-- Returns -1: not held (the lease was lost; nothing recorded); 0: backing off;
-- 1: dead-lettered; 2: the budget is spent, but a newer push waited beside the lease and
-- is in line with a fresh count.
--
-- The outcome does not depend on whether a push landed just before or just after the
-- failure: the failure is settled first, then the waiting push is applied as a push
-- would be (a ref in backoff stays there with a fresh count; a dead one returns to the
-- line with a fresh count).
local m = ARGV[2]
if redis.call('HGET', KEYS[2], m) ~= ARGV[1] then
  return -1
end
redis.call('ZREM', KEYS[1], m)
redis.call('HDEL', KEYS[2], m)
local waiting = redis.call('ZSCORE', KEYS[7], m) ~= false
-- A count that is not a small whole number (a hand edit, a bug) counts as none.
local attempts = tonumber(redis.call('HGET', KEYS[3], m))
if attempts == nil or not (attempts >= 0 and attempts < 1e9) then attempts = 0 end
attempts = math.floor(attempts) + 1
if attempts >= tonumber(ARGV[4]) then
  if waiting then
    redis.call('HDEL', KEYS[3], m)
    return 2
  end
  redis.call('HSET', KEYS[3], m, attempts)
  redis.call('ZADD', KEYS[5], tonumber(ARGV[3]), m)
  redis.call('HSET', KEYS[6], m, ARGV[6])
  -- Dead: it waits nowhere any more (not in backoff, not in the queue age).
  redis.call('ZREM', KEYS[4], m)
  redis.call('ZREM', KEYS[8], m)
  return 1
end
if waiting then
  -- One entry: the waiting push moves into the backoff, with a fresh count.
  redis.call('ZREM', KEYS[7], m)
  redis.call('HDEL', KEYS[3], m)
else
  redis.call('HSET', KEYS[3], m, attempts)
end
redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), m)
return 0
