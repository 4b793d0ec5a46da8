import type { RedisClient } from '../redis/redis-connection';

/** How ingest answered a delivery that asked to wait for the replica (POST /sync-wait). */
export const SYNC_WAIT_OUTCOMES = [
  /** B held the mail in time: 200. */
  'synced',
  /** It did not within the timeout: 504; the delivery went on, its mail follows. */
  'timeout',
  /** Too many deliveries were waiting in that ingest process: 503 at once. */
  'refused',
  /** Redis was not reachable: 503 at once. */
  'unavailable',
  /** A request that named no usable user: 400. */
  'invalid',
  /** Refused before its body was read: the source, the credentials, the method or the type. */
  'rejected',
  /** DOVEWARDEN_SYNC_WAIT_TIMEOUT is 0 on that ingest: 404 at once. */
  'off',
  /** The delivery's connection went away before an answer. */
  'abandoned',
  /** That ingest process was stopping: 503 at once. */
  'shutdown',
] as const;
export type SyncWaitOutcome = (typeof SYNC_WAIT_OUTCOMES)[number];

/**
 * How long a delivery's waits are remembered: its event reaches ingest within seconds of its
 * answer (Dovecot's exporter retries for 15 s at most).
 */
const DELIVERY_WAITS_TTL_MS = 10 * 60 * 1000;

export interface SyncWaitTally {
  /** Answers by outcome, since the namespace was created, across every ingest process. */
  counts: Record<SyncWaitOutcome, number>;
  /** When each outcome was last seen (ms), or null. */
  lastAt: Record<SyncWaitOutcome, number | null>;
}

/**
 * Ingest's own bookkeeping of delivery waits, for `dovewarden status` and the admin API (the
 * metrics say the same per process). One hash for the whole namespace: a count and a last time
 * per outcome, whatever the number of users or deliveries. Written without waiting for Redis:
 * a lost count never holds up a delivery.
 */
export class SyncWaitLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    /** The key of one delivery's waits (StateKeys.deliveryWaits). */
    private readonly deliveryKey: (session: string, user: string) => string,
  ) {}

  /**
   * A delivery (Dovecot's session id of one recipient) starts waiting. With waitSynced and
   * deliveryOnReplica this lets ingest skip the delivery's own event when every wait of that
   * delivery ended with its mail on B: Dovecot posts mail_delivery_finished only after them, and
   * the sync it would ask for has nothing left to carry.
   */
  async waitStarted(session: string, user: string): Promise<void> {
    const key = this.deliveryKey(session, user);
    await this.redis.multi().hincrby(key, 'started', 1).pexpire(key, DELIVERY_WAITS_TTL_MS).exec();
  }

  async waitSynced(session: string, user: string): Promise<void> {
    await this.redis.hincrby(this.deliveryKey(session, user), 'synced', 1);
  }

  /** True when every wait the delivery started ended with its mail on B. */
  async deliveryOnReplica(session: string, user: string): Promise<boolean> {
    const [started, synced] = await this.redis.hmget(
      this.deliveryKey(session, user),
      'started',
      'synced',
    );
    return Number(started) > 0 && started === synced;
  }

  note(outcome: SyncWaitOutcome, at: number): Promise<void> {
    return this.redis
      .multi()
      .hincrby(this.key, outcome, 1)
      .hset(this.key, `${outcome}:at`, String(at))
      .exec()
      .then(() => undefined);
  }

  /** The tally, or undefined when no delivery ever asked to wait. */
  async tally(): Promise<SyncWaitTally | undefined> {
    const fields = await this.redis.hgetall(this.key);
    if (Object.keys(fields).length === 0) return undefined;
    const counts = {} as Record<SyncWaitOutcome, number>;
    const lastAt = {} as Record<SyncWaitOutcome, number | null>;
    for (const outcome of SYNC_WAIT_OUTCOMES) {
      counts[outcome] = Number(fields[outcome] ?? 0) || 0;
      const at = Number(fields[`${outcome}:at`]);
      lastAt[outcome] = Number.isFinite(at) && at > 0 ? at : null;
    }
    return { counts, lastAt };
  }
}
