-- Deliveries waiting for their mail to be on the replica (ingest's POST /sync-wait) leave a
-- token in the user's request: field `w:<token>`, its value the ms when the waiter gives up, and
-- `waited` = '1' while the hash holds any. The claim carries the tokens over with the rest of
-- the request, so only a sync that started after the delivery (it claimed the token) answers
-- it; on success the tokens it claimed are published (settle-request). Tokens whose waiter gave
-- up are dropped on the way, so that a long outage of the replica leaves none behind.

local function nowMs()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end

-- Drops the given-up tokens of `key`; returns the live ones, as field, deadline pairs.
local function liveWaiters(key, now)
  local live = {}
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'w:' then
      if tonumber(fields[i + 1]) > now then
        table.insert(live, fields[i])
        table.insert(live, fields[i + 1])
      else
        redis.call('HDEL', key, fields[i])
      end
    end
  end
  if #live == 0 then redis.call('HDEL', key, 'waited') end
  return live
end
