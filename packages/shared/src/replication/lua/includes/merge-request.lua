-- merge(key, full, second, at, priority): merges one sync request into the hash `key`. Flags are
-- OR-ed, the change time and the priority keep their minimum. A field HMGET found missing
-- arrives as false and changes nothing.
local function merge(key, full, second, at, priority)
  if full == '1' then redis.call('HSET', key, 'full', '1') end
  if second == '1' then redis.call('HSET', key, 'secondPass', '1') end
  local storedAt = tonumber(redis.call('HGET', key, 'requestedAt'))
  if at and (storedAt == nil or tonumber(at) < storedAt) then
    redis.call('HSET', key, 'requestedAt', at)
  end
  local storedPriority = tonumber(redis.call('HGET', key, 'priority'))
  if priority and (storedPriority == nil or tonumber(priority) < storedPriority) then
    redis.call('HSET', key, 'priority', priority)
  end
end
