/**
 * KEYS[1], ARGV[1]: deletes the key only while it still holds the value the caller set, so a
 * lock or lease that expired and went to someone else is never released by its old holder.
 * Returns 1 when it deleted the key.
 */
export const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** KEYS[1], ARGV[1] token, ARGV[2] ms: extends the key's life only for its holder. */
export const COMPARE_AND_EXPIRE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
