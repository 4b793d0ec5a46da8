-- Settles the refusals older than ARGV[1] (OutageLedger.settleRefusals): retried ones (queued
-- later, in the retried set) are forgotten; the earliest one never retried becomes the outage's
-- start, kept if an earlier one is recorded.
-- KEYS[1] refused events, KEYS[2] retried events, KEYS[3] outage-since
-- ARGV[1] refused before (ms)
-- Returns the earliest lost refusal (ms, as a string), or false.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES')
local lost = false
for i = 1, #due, 2 do
  if redis.call('SISMEMBER', KEYS[2], due[i]) == 0 then
    local at = tonumber(due[i + 1])
    if lost == false or at < lost then lost = at end
  end
  redis.call('ZREM', KEYS[1], due[i])
end
if lost ~= false then
  local current = redis.call('GET', KEYS[3])
  if current == false or tonumber(current) > lost then redis.call('SET', KEYS[3], string.format('%.0f', lost)) end
  return string.format('%.0f', lost)
end
return false
