import type { RedisClient } from '../redis/redis-connection';

// Keep the earliest outage start: two ingest replicas may report overlapping outages.
const RECORD = `local current = redis.call('GET', KEYS[1])
if current == false or tonumber(current) > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/**
 * Records that events may have been lost since `since` (ms). The scheduler then sweeps early
 * and treats every user not synced since then as stale.
 */
export async function recordOutage(redis: RedisClient, key: string, since: number): Promise<void> {
  await redis.eval(RECORD, 1, key, String(since));
}
