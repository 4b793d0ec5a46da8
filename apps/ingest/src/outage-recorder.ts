import { createHash } from 'node:crypto';
import type { Logger, OutageLedger, RedisClient } from '@dovewarden/shared';

/**
 * How long after a refusal Dovecot may still retry the event. The printed 2.4 config retries a
 * 503 with Retry-After about every 0.8 s, 8 attempts, within http_client_request_absolute_timeout
 * = 15s; a second more covers a slow answer. An event not seen again by then is lost.
 */
export const RETRY_WINDOW_MS = 16_000;

/** Refused events remembered at once; past that every further refusal counts as lost. */
const MAX_TRACKED = 100_000;

/** How often refusals are shared, settled, and the shared watch looked up. */
const CHECK_EVERY_MS = 1000;

function fingerprint(body: string): string {
  return createHash('sha1').update(body).digest('base64');
}

type RefusalLedger = Pick<
  OutageLedger,
  'shareRefusals' | 'watchingRetries' | 'noteQueuedDuringWatch' | 'settleRefusals' | 'record'
>;

/**
 * Asks for a catch-up sweep only when events may really be lost. Ingest answers 503 while Redis
 * is down, and Dovecot 2.4 (with the printed config) retries the same event until Redis is back:
 * an outage its retries cover loses nothing and needs no catch-up, a full re-sync of everyone.
 *
 * So each refused event is remembered by a hash of its body and, once Redis answers, shared in
 * Redis with a watch of RETRY_WINDOW_MS. While a watch is on, every replica notes the hashes of
 * the events it queues: a retry may reach another replica behind the balancer. A refusal older
 * than the window and never queued since was lost (Dovecot gave up, or never retries: 2.3); the
 * earliest such one is recorded as the outage's start, and the scheduler then sweeps early and
 * treats every user not synced since then as stale.
 */
export class OutageRecorder {
  /** Refusals not yet shared in Redis: hash -> when first refused (ms). */
  readonly #refused = new Map<string, number>();
  /** Refusals beyond MAX_TRACKED: lost for sure, the earliest at this time. */
  #overflowSince: number | undefined;
  /** This replica watches (it refused events) until then (ms). */
  #watchUntil = 0;
  /** Another replica's watch, as last looked up. */
  #sharedWatch = false;
  #refusing = false;
  /** The check under way; a second caller waits for it rather than running another. */
  #checking: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    redis: RedisClient,
    private readonly ledger: RefusalLedger,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly retryWindowMs = RETRY_WINDOW_MS,
  ) {
    redis.on('ready', () => void this.check());
    this.#timer = setInterval(() => void this.check(), CHECK_EVERY_MS).unref();
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
    this.#watchUntil = Math.max(this.#watchUntil, at + this.retryWindowMs);
    if (this.#refused.size >= MAX_TRACKED) {
      this.#overflowSince = Math.min(this.#overflowSince ?? at, at);
      return;
    }
    const key = fingerprint(body);
    if (!this.#refused.has(key)) this.#refused.set(key, at);
  }

  /** Ingest queued this event: while retries are watched, it may be one. */
  queued(body: string): void {
    if (this.#refusing) {
      this.#refusing = false;
      this.logger.info('Redis is back; taking events again');
    }
    if (!this.#sharedWatch && this.now() > this.#watchUntil) return;
    const key = fingerprint(body);
    // Refused here and not shared yet: simply forgotten.
    if (this.#refused.delete(key)) return;
    this.ledger.noteQueuedDuringWatch(key).catch((error: unknown) => {
      this.logger.debug('could not note a retried event', { error: String(error) });
    });
  }

  /**
   * Shares this replica's refusals, looks up the shared watch, and settles refusals past the
   * retry window (any replica may). Runs every second, and when Redis is back.
   */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    try {
      const now = this.now();
      if (this.#refused.size > 0 || now < this.#watchUntil) {
        const batch = new Map(this.#refused);
        await this.ledger.shareRefusals(batch, Math.max(1, this.#watchUntil - now));
        for (const key of batch.keys()) this.#refused.delete(key);
      }
      this.#sharedWatch = await this.ledger.watchingRetries();
      let lost = await this.ledger.settleRefusals(now - this.retryWindowMs);
      if (this.#overflowSince !== undefined) {
        await this.ledger.record(this.#overflowSince);
        lost = Math.min(lost ?? this.#overflowSince, this.#overflowSince);
        this.#overflowSince = undefined;
      }
      if (lost !== undefined) {
        this.logger.warn(
          'events refused while Redis was down were not retried: a catch-up sweep will sync every user changed since then',
          { since: new Date(lost).toISOString() },
        );
      }
    } catch (error: unknown) {
      // Redis still down: the refusals stay here until it answers.
      this.logger.debug('could not check refused events yet', { error: String(error) });
    }
  }

  /**
   * Stops the checks (shutdown) after sharing what this replica refused, if Redis answers: a
   * replica that stays, or the next start, settles them.
   */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.check();
  }
}
