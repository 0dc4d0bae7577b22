-- Acknowledges processed refs, only those the token still holds.
-- KEYS: leased owner attempts since processed pending delayed
-- ARGV: token ttl member...
-- Returns how many were acknowledged.
--
-- A push that waited beside the lease stays in line with a fresh count; a ref waiting
-- nowhere any more leaves the queue-age set.
local done = 0
for i = 3, #ARGV do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    redis.call('HDEL', KEYS[3], m)
    if redis.call('ZSCORE', KEYS[6], m) == false and redis.call('ZSCORE', KEYS[7], m) == false then
      redis.call('ZREM', KEYS[4], m)
    end
    done = done + 1
  end
end
if done > 0 then
  redis.call('INCRBY', KEYS[5], done)
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[2]))
end
return done
