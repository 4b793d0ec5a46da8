import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';
import type { SyncWaitOutcome } from '@dovewarden/shared';

/** What POST /sync-wait did for each delivery, and how long the delivery was held. */
export class SyncWaitMetrics {
  readonly waits: Counter<'outcome'>;
  readonly seconds: Histogram<'outcome'>;
  readonly waiting: Gauge;

  constructor(registry: Registry, waitingNow: () => number) {
    this.waits = new Counter({
      name: `${METRIC_PREFIX}sync_wait_total`,
      help: 'Deliveries that asked to wait for the replica (POST /sync-wait), by outcome: synced, timeout, refused (too many waiting), unavailable (Redis), invalid, off, abandoned, shutdown',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: `${METRIC_PREFIX}sync_wait_duration_seconds`,
      help: 'How long a delivery waited for the replica before ingest answered, by outcome',
      labelNames: ['outcome'],
      // A sync of one user takes tens of ms to seconds; the timeout is seconds.
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
      registers: [registry],
    });
    this.waiting = new Gauge({
      name: `${METRIC_PREFIX}sync_waiters`,
      help: 'Deliveries waiting now in this ingest process (each holds one LMTP or LDA process on A)',
      registers: [registry],
      collect() {
        this.set(waitingNow());
      },
    });
  }

  observe(outcome: SyncWaitOutcome, seconds: number): void {
    this.waits.inc({ outcome });
    this.seconds.observe({ outcome }, seconds);
  }
}
