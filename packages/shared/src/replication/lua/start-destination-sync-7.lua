-- What a sync to one destination starts from, with its in-flight mark (DestinationLedger.start).
--- @include "includes/destination-start"
-- KEYS StateKeys.destinationStart: dsync state, last full sync, last success, states suspect
--      before, in-flight mark, departed mailboxes, source mailboxes at failure
-- ARGV user, now (ms), the state's ttl (ms)
-- Returns start()'s seven replies.
return start(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3])
