-- One more run in a row that ended in exit 2, under the lease (SyncSessions.countChangedRun).
-- KEYS[1] the claimed request, KEYS[2] the user's lease
-- ARGV[1] the lease token, ARGV[2] the claimed request's ttl (ms)
-- Returns the new streak, or 0 without the lease.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local streak = redis.call('HINCRBY', KEYS[1], 'changedStreak', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return streak
