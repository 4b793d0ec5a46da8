import { randomUUID } from 'node:crypto';

/** How a delivery's wait ended. */
export type WaitOutcome =
  /** The sync that claimed its token succeeded: B holds the mail. */
  | 'synced'
  /** Its time was up first. */
  | 'timeout'
  /** The delivery's connection went away before either. */
  | 'abandoned'
  /** This ingest process is stopping. */
  | 'shutdown';

export interface OpenWait {
  /** Carried by the user's sync request (SyncRequests.record), published when it is synced. */
  readonly token: string;
  /** When the wait gives up (ms since the epoch); the request drops the token after it. */
  readonly deadline: number;
  readonly outcome: Promise<WaitOutcome>;
  /** Ends the wait at once (the delivery went away, or its sync could not be queued). */
  end(outcome: 'abandoned' | 'shutdown'): void;
}

/**
 * The deliveries waiting in this ingest process for their mail to be on the replica (POST
 * /sync-wait). Each wait has a token that the user's sync request carries; the sync that claims
 * it publishes it when it succeeds, and the process's one subscription hands the published
 * tokens to notify(). A wait is forgotten as soon as it ends, so this never holds more than
 * `maxWaiters` entries and one timer each: a flood of waits is refused at once, not queued.
 */
export class SyncWaiters {
  readonly #waiting = new Map<string, (outcome: WaitOutcome) => void>();

  constructor(
    private readonly maxWaiters: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Deliveries waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** A new wait of at most `timeoutMs`, or undefined when `maxWaiters` already wait. */
  open(timeoutMs: number): OpenWait | undefined {
    if (this.#waiting.size >= this.maxWaiters) return undefined;
    const token = randomUUID();
    const deadline = this.now() + timeoutMs;
    let finish: (outcome: WaitOutcome) => void = () => undefined;
    const outcome = new Promise<WaitOutcome>((resolve) => {
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      finish = (result) => {
        if (!this.#waiting.delete(token)) return;
        clearTimeout(timer);
        resolve(result);
      };
    });
    this.#waiting.set(token, finish);
    return { token, deadline, outcome, end: (result) => finish(result) };
  }

  /** A message of the synced-waiters channel: the tokens a successful sync had claimed. */
  notify(message: string): void {
    for (const token of message.split(' ')) this.#waiting.get(token)?.('synced');
  }

  /** Ends every wait (the process stops): each delivery is answered at once and goes on. */
  endAll(): void {
    for (const finish of [...this.#waiting.values()]) finish('shutdown');
  }
}
