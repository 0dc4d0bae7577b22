-- Puts up to `limit` dead-lettered refs back in line with a fresh count.
-- KEYS: dead dead_error attempts pending seq since
-- ARGV: now limit
-- Returns how many were moved.
local dead = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
for _, m in ipairs(dead) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  if redis.call('ZSCORE', KEYS[4], m) == false then
    redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[5]), m)
  end
  redis.call('ZADD', KEYS[6], 'NX', tonumber(ARGV[1]), m)
end
return #dead
