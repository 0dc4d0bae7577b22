-- Releases a lock, only if the token still holds it.
-- KEYS: the lock ; ARGV: token
-- Returns 1 when released, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
