import { createHash } from 'node:crypto';
import type { Logger, RedisClient, ReplicationState } from '@dovewarden/shared';

/**
 * How long after a refusal Dovecot may still retry the event. The printed 2.4 config retries a
 * 503 with Retry-After about every 0.8 s, 8 attempts, within http_client_request_absolute_timeout
 * = 15s; a second more covers a slow answer. An event not seen again by then is lost.
 */
export const RETRY_WINDOW_MS = 16_000;

/** Refused events remembered at once; past that every further refusal counts as lost. */
const MAX_TRACKED = 100_000;

/** How often refusals are checked for events that never came back. */
const CHECK_EVERY_MS = 1000;

function fingerprint(body: string): string {
  return createHash('sha1').update(body).digest('base64');
}

/**
 * Asks for a catch-up sweep only when events may really be lost. Ingest answers 503 while Redis
 * is down, and Dovecot 2.4 (with the printed config) retries the same event until Redis is back:
 * an outage its retries cover loses nothing and needs no catch-up, a full re-sync of everyone.
 * So each refused event is remembered by a hash of its body and forgotten when the same event
 * is queued; one still unseen RETRY_WINDOW_MS after its refusal was lost (Dovecot gave up, or
 * never retries: 2.3, or another ingest replica took the retry, which only costs a needless
 * catch-up). The earliest lost one's time is written to Redis, once Redis answers, and the
 * scheduler then sweeps early and treats every user not synced since then as stale.
 */
export class OutageRecorder {
  /** fingerprint -> when it was first refused (ms) */
  readonly #refused = new Map<string, number>();
  /** The earliest refusal known lost and not yet written to Redis. */
  #lostSince: number | undefined;
  #refusing = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    redis: RedisClient,
    private readonly state: Pick<ReplicationState, 'recordOutage'>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly retryWindowMs = RETRY_WINDOW_MS,
  ) {
    redis.on('ready', () => void this.flush());
  }

  /** Ingest answered this event 503 because Redis is down. */
  refused(body: string): void {
    const at = this.now();
    if (!this.#refusing) {
      this.#refusing = true;
      this.logger.warn('refusing events: Redis is unreachable', {
        since: new Date(at).toISOString(),
      });
    }
    if (this.#refused.size >= MAX_TRACKED) this.#lost(at);
    else {
      const key = fingerprint(body);
      if (!this.#refused.has(key)) this.#refused.set(key, at);
    }
    this.#timer ??= setInterval(() => void this.check(), CHECK_EVERY_MS).unref();
  }

  /** Ingest queued this event: if it was refused before, Dovecot's retry brought it back. */
  queued(body: string): void {
    if (this.#refused.size === 0) return;
    this.#refused.delete(fingerprint(body));
    if (this.#refusing) {
      this.#refusing = false;
      this.logger.info('Redis is back; taking events again');
    }
  }

  /** Marks refusals older than the retry window lost, and writes the earliest one. */
  async check(): Promise<void> {
    const expired = this.now() - this.retryWindowMs;
    for (const [key, at] of this.#refused) {
      if (at > expired) continue;
      this.#refused.delete(key);
      this.#lost(at);
    }
    if (this.#refused.size === 0 && this.#lostSince === undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    await this.flush();
  }

  /** Writes the earliest lost refusal, if any, to Redis; kept for the next try on failure. */
  async flush(): Promise<void> {
    const since = this.#lostSince;
    if (since === undefined) return;
    try {
      await this.state.recordOutage(since);
      if (this.#lostSince === since) this.#lostSince = undefined;
      this.logger.warn(
        'events refused while Redis was down were not retried: a catch-up sweep will sync every user changed since then',
        {
          since: new Date(since).toISOString(),
        },
      );
    } catch (error: unknown) {
      this.logger.warn('could not record the outage yet', { error: String(error) });
    }
  }

  /**
   * Stops the checks (shutdown). Refusals still waiting for their retry count as lost: this
   * process will not see the retry. Written once more if Redis answers.
   */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const at of this.#refused.values()) this.#lost(at);
    this.#refused.clear();
    await this.flush();
  }

  #lost(at: number): void {
    this.#lostSince = Math.min(this.#lostSince ?? at, at);
  }
}
