-- Gives refs back without counting an attempt (shutdown, repository locked elsewhere).
-- KEYS: leased owner pending seq attempts
-- ARGV: token member...
-- Returns how many the token held.
--
-- A released ref goes back to the front of the line: it was next before it was claimed.
-- A push that waited beside the lease keeps its place and starts a fresh count.
-- Last member first, so that each goes in front of the next and the batch keeps its order.
local n = 0
for i = #ARGV, 2, -1 do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZREM', KEYS[1], m)
    redis.call('HDEL', KEYS[2], m)
    if redis.call('ZSCORE', KEYS[3], m) == false then
      local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
      local score = 0
      if #first > 0 then score = tonumber(first[2]) - 1 else score = redis.call('INCR', KEYS[4]) end
      redis.call('ZADD', KEYS[3], score, m)
    else
      redis.call('HDEL', KEYS[5], m)
    end
    n = n + 1
  end
end
return n
