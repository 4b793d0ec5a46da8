-- Successful syncs to destinations whose writes were held back, stored now
-- (DestinationLedger.recordManySynced). Its key count varies: 6 per destination.
--- @include "includes/destination-synced"
-- KEYS per destination StateKeys.destinationSuccess
-- ARGV destination count, then per destination: user, then destinationSynced()'s arguments
-- Returns 1.
local at = 2
for d = 0, tonumber(ARGV[1]) - 1 do
  local user = ARGV[at]
  at = destinationSynced(d * 6, at + 1, user)
end
return 1
