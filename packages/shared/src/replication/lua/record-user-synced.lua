-- A user's successful sync in one command (SyncSessions.recordSynced): the destination states
-- held back, the success marks, the claim's end (waiting deliveries told) and the lease's
-- release. Its key count varies: 6, then 6 per destination.
--- @include "includes/settle-request"
--- @include "includes/destination-synced"
-- KEYS[1] last success, [2] failed users, [3] unknown users, [4] the user's status, [5] the
--      claimed request, [6] the lease, then per destination StateKeys.destinationSuccess: dsync
--      state, in-flight mark, source mailboxes at failure, last success (destination), last full
--      sync (destination), departed mailboxes
-- ARGV user, finishedAt, full ('1'/'0'), lease token ('' for none), the synced-waiters channel,
--      destination count, then per destination destinationSynced()'s arguments
-- Returns 1.
local user = ARGV[1]
local at = 7
for d = 0, tonumber(ARGV[6]) - 1 do
  at = destinationSynced(6 + d * 6, at, user)
end
redis.call('ZADD', KEYS[1], ARGV[2], user)
redis.call('ZREM', KEYS[2], user)
redis.call('ZREM', KEYS[3], user)
redis.call('HSET', KEYS[4], 'lastSuccessAt', ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', KEYS[4], 'lastFullSyncAt', ARGV[2]) end
if ARGV[4] ~= '' then
  settle(KEYS[5], KEYS[6], ARGV[4], ARGV[5])
  if redis.call('GET', KEYS[6]) == ARGV[4] then redis.call('DEL', KEYS[6]) end
end
return 1
