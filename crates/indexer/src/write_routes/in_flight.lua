local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local n = 0
for _, t in ipairs(ARGV) do
  local deadline = redis.call('ZSCORE', KEYS[1], t)
  if deadline and tonumber(deadline) > ms then n = n + 1 end
end
return n
