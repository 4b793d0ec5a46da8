import type { Logger, RedisClient, ReplicationState } from '@dovewarden/shared';

/**
 * Remembers when ingest first had to refuse events because Redis was down, and writes it to
 * Redis once Redis is back. Events refused beyond Dovecot's retries are lost; the scheduler
 * then sweeps early and treats every user not synced since the outage began as stale.
 */
export class OutageRecorder {
  #since: number | undefined;

  constructor(
    redis: RedisClient,
    private readonly state: Pick<ReplicationState, 'recordOutage'>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    redis.on('ready', () => void this.flush());
  }

  started(): void {
    if (this.#since !== undefined) return;
    this.#since = this.now();
    this.logger.warn('refusing events: Redis is unreachable', {
      since: new Date(this.#since).toISOString(),
    });
  }

  async flush(): Promise<void> {
    const since = this.#since;
    if (since === undefined) return;
    try {
      await this.state.recordOutage(since);
      if (this.#since === since) this.#since = undefined;
      this.logger.info('Redis is back; recorded the outage for a catch-up sweep', {
        since: new Date(since).toISOString(),
      });
    } catch (error: unknown) {
      this.logger.warn('could not record the outage yet', { error: String(error) });
    }
  }
}
