-- Extends a lock its holder still holds, to a full time to live.
-- KEYS: the lock ; ARGV: token ttl_ms
-- Returns 1: extended; 0: the key is gone (expired, deleted); -1: another token holds it.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then
  return 0
end
return -1
