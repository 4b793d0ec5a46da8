-- After a failback (ReplicaServiceLedger.forgetChangesBefore): removes the user's mark when it
-- is not later than the failback's start.
-- KEYS[1] the served-by-replica ledger
-- ARGV[1] user, ARGV[2] the failback's start (ms)
-- Returns 1 when the mark was removed, else 0.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
