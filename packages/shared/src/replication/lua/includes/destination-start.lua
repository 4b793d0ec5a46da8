-- start(state, full, success, suspect, inFlight, departed, atFailure, user, now, ttl): what a
-- sync to one destination starts from, and its in-flight mark: the dsync state, the last full
-- sync, the last success, states suspect before, the in-flight mark (set to `now`; the one it
-- replaced is returned), departed mailboxes, the source's mailboxes at a failure.
local function start(state, full, success, suspect, inFlight, departed, atFailure, user, now, ttl)
  return {
    redis.call('GET', state),
    redis.call('ZSCORE', full, user),
    redis.call('ZSCORE', success, user),
    redis.call('GET', suspect),
    redis.call('SET', inFlight, now, 'PX', ttl, 'GET'),
    redis.call('ZRANGE', departed, 0, -1),
    redis.call('SMEMBERS', atFailure) }
end
