import { randomUUID } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
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

  /**
   * The lease, or undefined when another sync of this user holds it. `alongside` adds commands
   * to the same round trip, after the lease is taken; it gets the lease's token, so a script
   * can act only for the holder. Their replies come back in `replies`.
   */
  static async acquire(
    redis: RedisClient,
    key: string,
    ttlMs: number,
    onLost: () => void,
    alongside: (pipeline: ChainableCommander, token: string) => void = () => undefined,
  ): Promise<{ lease: UserLease | undefined; replies: unknown[] }> {
    const lease = UserLease.candidate(redis, key);
    const pipeline = redis.pipeline().set(key, lease.#token, 'PX', ttlMs, 'NX');
    alongside(pipeline, lease.#token);
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    const replies: unknown[] = results.slice(1).map(([, reply]) => reply);
    if (results[0]?.[1] !== 'OK') return { lease: undefined, replies };
    lease.taken(ttlMs, onLost);
    return { lease, replies };
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
        redis.eval(RENEW, 1, key, this.#token, String(ttlMs)).then(
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

  /** Stops renewing; the release itself goes into `pipeline` when given, or is sent now. */
  async release(pipeline?: ChainableCommander): Promise<void> {
    this.stopRenewing();
    if (pipeline === undefined) await this.redis.eval(RELEASE, 1, this.key, this.#token);
    else pipeline.eval(RELEASE, 1, this.key, this.#token);
  }
}
