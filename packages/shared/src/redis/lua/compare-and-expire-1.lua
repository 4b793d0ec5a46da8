-- Extends a key's life only for its holder (a lease or lock renewed in the background).
-- KEYS[1] the lock or lease
-- ARGV[1] the holder's token, ARGV[2] the new time to live (ms)
-- Returns 1 when it was renewed, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end
