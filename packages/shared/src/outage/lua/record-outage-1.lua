-- Events may have been lost since ARGV[1] (OutageLedger.record). Two ingest replicas may report
-- overlapping outages: the earliest start is kept.
-- KEYS[1] outage-since
-- ARGV[1] the outage's start (ms)
-- Returns 1.
local current = redis.call('GET', KEYS[1])
if current == false or tonumber(current) > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
