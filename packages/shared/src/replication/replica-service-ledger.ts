import type { RedisClient } from '../redis/redis-connection';
import { LuaScript } from '../redis/lua-script';
import type { StateKeys } from './state-keys';

const FORGET_BEFORE = LuaScript.fromFile(__dirname, 'lua/forget-served-before-1.lua');

/**
 * What dovewarden knows about users the replica served: a change made on B itself (a client
 * that failed over, mail delivered to B), as B's own Dovecot reports it to ingest
 * (`POST /events?server=replica`). In the `backup` sync mode such a user is never backed up,
 * since a backup removes from B what A lacks: mail that reached B alone would be destroyed. The
 * user is synced one-way instead, which keeps it, until `dovewarden failback` merges B's changes
 * into A and forgets the mark. Knowledge, not a guess: without B's events nothing is marked, so
 * the backup mode asks for them (README).
 */
export class ReplicaServiceLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  /** Marks users that changed on the replica; the first change since the last failback stays. */
  async noteServed(users: readonly string[], at: number): Promise<void> {
    if (users.length === 0) return;
    const args: (string | number)[] = [];
    for (const user of users) args.push(at, user);
    await this.redis.zadd(this.keys.servedByReplica, 'NX', ...args);
  }

  /** When the replica first served the user since its last failback (ms), or undefined. */
  async servedSince(user: string): Promise<number | undefined> {
    const score = await this.redis.zscore(this.keys.servedByReplica, user);
    return score === null ? undefined : Number(score);
  }

  /**
   * After a failback of the user that started at `startedAt` (ms): B's changes up to then are on
   * A now, so a backup destroys nothing of them. A change on B after that start keeps the mark.
   */
  async forgetChangesBefore(user: string, startedAt: number): Promise<boolean> {
    const removed = await FORGET_BEFORE.run(this.redis, {
      keys: [this.keys.servedByReplica],
      args: [user, startedAt],
    });
    return removed === 1;
  }

  /** Forgets the mark whatever its time (tests, and an operator's explicit word). */
  async forget(user: string): Promise<void> {
    await this.redis.zrem(this.keys.servedByReplica, user);
  }

  /** How many users wait for a failback. */
  count(): Promise<number> {
    return this.redis.zcard(this.keys.servedByReplica);
  }

  /** Users the replica served, the earliest first, with the time of their first change there. */
  async list(limit = 1000): Promise<{ user: string; since: number }[]> {
    const flat = await this.redis.zrange(this.keys.servedByReplica, 0, limit - 1, 'WITHSCORES');
    const out: { user: string; since: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ user: flat[i] ?? '', since: Number(flat[i + 1]) });
    }
    return out;
  }
}
