-- destinationSynced(k, at, user): one destination's successful sync, the one rule of what "the
-- destination is synced" writes: the new dsync state, the call's end (in-flight mark and the
-- source's mailboxes at a failure gone), the destination's success (and full sync) mark, and the
-- mailboxes that left the state. Its six keys are KEYS[k + 1..6], StateKeys.destinationSuccess;
-- its arguments start at ARGV[at]: state, state ttl, finishedAt, full ('1'/'0'), departed count,
-- departed GUIDs..., settled count, settled GUIDs... (departed mailboxes a folder repair found
-- gone from the destination). Returns the position after them.
local function destinationSynced(k, at, user)
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
  local settled = tonumber(ARGV[at])
  at = at + 1
  for i = 0, settled - 1 do redis.call('ZREM', KEYS[k + 6], ARGV[at + i]) end
  at = at + settled
  return at
end
