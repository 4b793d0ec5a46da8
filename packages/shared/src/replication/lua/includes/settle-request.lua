--- @include "waiters"
-- settle(claimed, lease, token, channel): a sync that succeeded covered what it claimed. For the
-- lease's holder only: the claim ends, and the deliveries waiting on it are told that the
-- replica holds their mail (their tokens, published space-separated on `channel`).
local function settle(claimed, lease, token, channel)
  if redis.call('GET', lease) ~= token then return end
  if redis.call('HGET', claimed, 'waited') == '1' then
    local live = liveWaiters(claimed, nowMs())
    local tokens = {}
    for i = 1, #live, 2 do table.insert(tokens, string.sub(live[i], 3)) end
    if #tokens > 0 then redis.call('PUBLISH', channel, table.concat(tokens, ' ')) end
  end
  redis.call('DEL', claimed)
end
