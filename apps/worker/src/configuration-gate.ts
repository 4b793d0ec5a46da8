import type { Logger } from '@dovewarden/shared';

/** The worker operations the gate needs; a BullMQ Worker fits. */
export interface Pausable {
  pause(doNotWaitActive?: boolean): Promise<void>;
  resume(): void;
}

const FIRST_PROBE_MS = 5000;
const MAX_PROBE_MS = 5 * 60_000;

/**
 * A wrong password, a command doveadm does not allow, or a broken config (HTTP 401, exit 77 or
 * 78) fails every user the same way. Instead of burning every queued job's attempts, the first
 * such failure pauses the worker, turns /readyz to 503 with the reason, and probes doveadm with
 * backoff until it answers; then the worker resumes. Jobs that hit the problem are handed back
 * without using an attempt. The probe delay keeps growing while syncs keep failing this way
 * after a good probe, so a problem that only sync sees cannot turn into a hot loop.
 */
export class ConfigurationGate {
  #reason: string | undefined;
  #streak = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly worker: Pausable,
    private readonly probe: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get paused(): boolean {
    return this.#reason !== undefined;
  }

  /** For /readyz. */
  readiness(): true | { ready: false; reason: string } {
    return this.#reason === undefined ? true : { ready: false, reason: this.#reason };
  }

  /** How long a job that hit the problem waits before it is tried again. */
  get handBackDelayMs(): number {
    return Math.min(MAX_PROBE_MS, FIRST_PROBE_MS * 2 ** Math.min(this.#streak, 10));
  }

  trip(reason: string): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#streak += 1;
    this.logger.error('doveadm configuration problem: worker paused until it is fixed', { reason });
    void this.worker.pause(true).catch(() => undefined);
    this.#schedule(this.handBackDelayMs);
  }

  /** A sync succeeded: the configuration works again. */
  succeeded(): void {
    this.#streak = 0;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#probe(delayMs), delayMs);
    this.#timer.unref();
  }

  async #probe(lastDelayMs: number): Promise<void> {
    try {
      await this.probe();
      this.logger.info('doveadm answers again: worker resumed', { was: this.#reason });
      this.#reason = undefined;
      this.worker.resume();
    } catch (error: unknown) {
      this.logger.warn('doveadm still refuses; probing again later', {
        error: error instanceof Error ? error.message : String(error),
      });
      this.#schedule(Math.min(MAX_PROBE_MS, lastDelayMs * 2));
    }
  }
}
