import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

// Renew or release only a lease we still hold: after a stall another worker may own it.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

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
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  /** The lease, or undefined when another sync of this user holds it. */
  static async acquire(
    redis: Redis,
    key: string,
    ttlMs: number,
    onLost: () => void,
  ): Promise<UserLease | undefined> {
    const lease = new UserLease(redis, key);
    const taken = await redis.set(key, lease.#token, 'PX', ttlMs, 'NX');
    if (taken !== 'OK') return undefined;
    lease.#timer = setInterval(
      () => {
        redis.eval(RENEW, 1, key, lease.#token, String(ttlMs)).then(
          (renewed) => {
            if (renewed !== 1) onLost();
          },
          // A failed renewal is retried on the next tick; the TTL covers two missed ones.
          () => undefined,
        );
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    lease.#timer.unref();
    return lease;
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.redis.eval(RELEASE, 1, this.key, this.#token);
  }
}
