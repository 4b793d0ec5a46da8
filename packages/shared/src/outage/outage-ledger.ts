import type { RedisClient } from '../redis/redis-connection';
import { COMPARE_AND_DELETE } from '../redis/compare-and-delete';
import { LuaScript } from '../redis/lua-script';
import { repliesOf } from '../redis/replies';
import type { StateKeys } from '../replication/state-keys';

/** Refused and retried event hashes outlive an ingest restart, not a day. */
const REFUSAL_TTL_MS = 3600_000;

const RECORD_OUTAGE = LuaScript.fromFile(__dirname, 'lua/record-outage-1.lua');
const SETTLE_REFUSALS = LuaScript.fromFile(__dirname, 'lua/settle-refusals-3.lua');

/**
 * When events may have been lost: ingest records an outage (it refused events while Redis was
 * away, and Dovecot did not retry them all), and the scheduler's next sweep catches up from it,
 * treating every user not synced since then as stale. Ingest's bookkeeping, not a user's state:
 * the refused and retried events (shared by every ingest replica) and the outage's start.
 */
export class OutageLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  /**
   * Events may have been lost since `since` (ms): the scheduler sweeps early and treats every
   * user not synced since then as stale. Keeps the earliest start of overlapping outages.
   */
  async record(since: number): Promise<void> {
    await RECORD_OUTAGE.run(this.redis, { keys: [this.keys.outageSince], args: [since] });
  }

  /**
   * An ingest replica refused these events (hash -> ms) while Redis was down: shared, so that a
   * retry queued by any replica counts, and retries are watched for `watchMs` from now.
   */
  async shareRefusals(refused: ReadonlyMap<string, number>, watchMs: number): Promise<void> {
    const { keys } = this;
    const members = [...refused].flatMap(([hash, at]) => [at, hash]);
    const transaction = this.redis.multi();
    if (members.length > 0)
      transaction.zadd(keys.refusedEvents, ...members).pexpire(keys.refusedEvents, REFUSAL_TTL_MS);
    transaction.set(keys.outageWatch, '1', 'PX', watchMs);
    repliesOf(await transaction.exec());
  }

  /** True while some replica watches for retries of events it refused. */
  async watchingRetries(): Promise<boolean> {
    return (await this.redis.exists(this.keys.outageWatch)) === 1;
  }

  /** An event was queued while retries are watched: if it was refused before, it was retried. */
  async noteQueuedDuringWatch(hash: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(this.keys.retriedEvents, hash)
      .pexpire(this.keys.retriedEvents, REFUSAL_TTL_MS)
      .exec();
  }

  /**
   * Settles the refusals older than `before` (ms): retried ones are forgotten; the earliest one
   * never retried is recorded as the outage's start (a catch-up sweep). Returns that, if any.
   */
  async settleRefusals(before: number): Promise<number | undefined> {
    const { keys } = this;
    const lost = await SETTLE_REFUSALS.run(this.redis, {
      keys: [keys.refusedEvents, keys.retriedEvents, keys.outageSince],
      args: [before],
    });
    return typeof lost === 'string' ? Number(lost) : undefined;
  }

  /** The recorded outage's start, as stored (to clear exactly that one), or null. */
  since(): Promise<string | null> {
    return this.redis.get(this.keys.outageSince);
  }

  async exists(): Promise<boolean> {
    return (await this.redis.exists(this.keys.outageSince)) === 1;
  }

  /** Clears the outage a sweep caught up from, unless a newer one was recorded meanwhile. */
  async clear(since: string): Promise<void> {
    await COMPARE_AND_DELETE.run(this.redis, { keys: [this.keys.outageSince], args: [since] });
  }
}
