-- A worker's claim in one command (SyncSessions.claim): takes the user's lease, claims its
-- merged requests and, when ARGV[7] is '1', reads what the sync to the first destination starts
-- from and marks that call in flight. One command instead of a pipeline of ten: on a small VM
-- every command and round trip costs the controller more CPU than the work in Redis.
--- @include "includes/claim-request"
--- @include "includes/destination-start"
-- KEYS[1] the lease, KEYS[2] the open request, KEYS[3] the claimed request, KEYS[4..10] the
--      first destination's StateKeys.destinationStart
-- ARGV token, lease ttl, request ttl, user, now, state ttl, '1' to start the first destination
-- Returns false without the lease, else { claim, start()'s seven replies when asked }.
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
local claimed = claim(KEYS[2], KEYS[3], ARGV[3])
if ARGV[7] ~= '1' then return { claimed } end
local reply = start(KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], ARGV[4], ARGV[5], ARGV[6])
table.insert(reply, 1, claimed)
return reply
