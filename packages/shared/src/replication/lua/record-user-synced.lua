-- A user's successful sync in one command (SyncSessions.recordSynced): the destination states
-- held back, the success marks, the claim's end (waiting deliveries told) and the lease's
-- release. Its key count varies: 6, then 6 per destination.
--- @include "includes/settle-request"
-- KEYS[1] last success, [2] failed users, [3] unknown users, [4] the user's status, [5] the
--      claimed request, [6] the lease, then per destination StateKeys.destinationSuccess: dsync
--      state, in-flight mark, source mailboxes at failure, last success (destination), last full
--      sync (destination), departed mailboxes
-- ARGV user, finishedAt, full ('1'/'0'), lease token ('' for none), the synced-waiters channel,
--      destination count, then per destination: state, state ttl, finishedAt, full, departed
--      count, departed GUIDs...
-- Returns 1.
local user = ARGV[1]
local at = 7
for d = 0, tonumber(ARGV[6]) - 1 do
  local k = 6 + d * 6
  local state, ttl, finished, full, departed = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4])
  at = at + 5
  redis.call('SET', KEYS[k + 1], state, 'PX', ttl)
  redis.call('DEL', KEYS[k + 2], KEYS[k + 3])
  redis.call('ZADD', KEYS[k + 4], finished, user)
  if full == '1' then redis.call('ZADD', KEYS[k + 5], finished, user) end
  if departed > 0 then
    for i = 0, departed - 1 do redis.call('ZADD', KEYS[k + 6], finished, ARGV[at + i]) end
    redis.call('PEXPIRE', KEYS[k + 6], ttl)
    at = at + departed
  end
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
