-- Deletes a key only while it still holds the value its holder set, so that a lock or lease
-- that expired and went to someone else is never released by its old holder.
-- KEYS[1] the lock or lease
-- ARGV[1] the holder's token
-- Returns 1 when it deleted the key, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end
