--- @include "merge-request"
--- @include "waiters"
-- claim(request, claimed, ttl): moves the user's open request into the claimed one (which a
-- failed or killed sync left behind), waiting deliveries' tokens included, and returns the
-- claim: full, secondPass, requestedAt, priority, changedStreak.
local function claim(request, claimed, ttl)
  local open = redis.call('HMGET', request, 'full', 'secondPass', 'requestedAt', 'priority', 'waited')
  merge(claimed, open[1], open[2], open[3], open[4])
  if open[5] == '1' or redis.call('HGET', claimed, 'waited') == '1' then
    local now = nowMs()
    local moving = liveWaiters(request, now)
    for i = 1, #moving, 2 do redis.call('HSET', claimed, moving[i], moving[i + 1]) end
    if #liveWaiters(claimed, now) > 0 then redis.call('HSET', claimed, 'waited', '1') end
  end
  redis.call('DEL', request)
  redis.call('PEXPIRE', claimed, ttl)
  return redis.call('HMGET', claimed, 'full', 'secondPass', 'requestedAt', 'priority', 'changedStreak')
end
