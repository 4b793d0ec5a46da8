import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connection';
// Renew or release only a lease we still hold: after a stall another worker may own it.
import {
  COMPARE_AND_DELETE as RELEASE,
  COMPARE_AND_EXPIRE as RENEW,
} from '../redis/compare-and-delete';

/**
 * The second line of defence for "at most one dsync per user": a lease in Redis, held while the
 * sync runs and renewed in the background. BullMQ's deduplication already keeps one job per
 * user, but a manual retry from Bull Board, or a job taken over after a stall while the old
 * worker still runs, would otherwise run a second dsync beside the first.
 */
export class UserLease {
  readonly #token = randomUUID();
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  /** The lease, or undefined when another sync of this user holds it. */
  static async acquire(
    redis: RedisClient,
    key: string,
    ttlMs: number,
    onLost: () => void,
  ): Promise<UserLease | undefined> {
    const lease = UserLease.candidate(redis, key);
    if ((await redis.set(key, lease.#token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
    lease.taken(ttlMs, onLost);
    return lease;
  }

  /**
   * A lease not taken yet, with its token: for a script that takes it (SET key token PX ttl NX)
   * along with other work in one command. Call taken() once the script says it did.
   */
  static candidate(redis: RedisClient, key: string): UserLease {
    return new UserLease(redis, key);
  }

  /** The lease is ours: renew it in the background until release(). */
  taken(ttlMs: number, onLost: () => void): void {
    const { redis, key } = this;
    this.#timer = setInterval(
      () => {
        RENEW.run(redis, { keys: [key], args: [this.#token, ttlMs] }).then(
          (renewed) => {
            if (renewed !== 1) onLost();
          },
          // A failed renewal is retried on the next tick; the TTL covers two missed ones.
          () => undefined,
        );
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    this.#timer.unref();
  }

  /** Proves to a script that the caller holds the lease. */
  get token(): string {
    return this.#token;
  }

  /** Stops renewing, for a script that releases the lease itself (compare and delete). */
  stopRenewing(): void {
    clearInterval(this.#timer);
  }

  /** Stops renewing and releases the lease, if it is still ours. */
  async release(): Promise<void> {
    this.stopRenewing();
    await RELEASE.run(this.redis, { keys: [this.key], args: [this.#token] });
  }
}
