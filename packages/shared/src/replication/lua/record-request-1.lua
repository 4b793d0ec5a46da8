-- Merges one sync request into the user's open request (SyncRequests.record).
--- @include "includes/merge-request"
--- @include "includes/waiters"
-- KEYS[1] the user's open request (StateKeys.syncRequest)
-- ARGV full ('1'/'0'), secondPass, requestedAt (ms), priority, ttl (ms), a waiting delivery's
--      token ('' for none), its deadline (ms)
-- Returns the merge { full, secondPass, requestedAt, priority, the priority stored before }.
local before = redis.call('HGET', KEYS[1], 'priority')
merge(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if ARGV[6] ~= '' then
  -- Given-up tokens pile up while nothing claims the request (the queue stopped): drop them.
  if redis.call('HLEN', KEYS[1]) > 64 then liveWaiters(KEYS[1], nowMs()) end
  redis.call('HSET', KEYS[1], 'w:' .. ARGV[6], ARGV[7], 'waited', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local merged = redis.call('HMGET', KEYS[1], 'full', 'secondPass', 'requestedAt', 'priority')
merged[5] = before
return merged
