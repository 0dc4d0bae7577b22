-- Extends the leases a token still holds.
-- KEYS: leased owner
-- ARGV: token deadline member...
-- Returns how many were extended.
--
-- A lease is the token's until another claim takes it back (claims return expired leases
-- atomically, clearing the owner), so a heartbeat that comes late but before any claim
-- keeps the ref: still one holder. Once taken back, the owner differs and nothing is
-- extended.
local n = 0
for i = 3, #ARGV do
  local m = ARGV[i]
  if redis.call('HGET', KEYS[2], m) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[2]), m)
    n = n + 1
  end
end
return n
