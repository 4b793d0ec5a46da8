import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricFactory, type SyncWaitOutcome } from '@dovewarden/shared';

/** What POST /sync-wait did for each delivery, and how long the delivery was held. */
export class SyncWaitMetrics {
  readonly waits: Counter<'outcome'>;
  readonly seconds: Histogram<'outcome'>;
  readonly waiting: Gauge;

  constructor(registry: Registry, waitingNow: () => number) {
    const metric = new MetricFactory(registry);
    this.waits = metric.counter(
      'sync_wait_total',
      'Deliveries that asked to wait for the replica (POST /sync-wait), by outcome: synced, timeout, refused (too many waiting), unavailable (Redis), invalid, off, abandoned, shutdown',
      ['outcome'],
    );
    this.seconds = metric.histogram(
      'sync_wait_duration_seconds',
      'How long a delivery waited for the replica before ingest answered, by outcome',
      // A sync of one user takes tens of ms to seconds; the timeout is seconds.
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
      ['outcome'],
    );
    this.waiting = metric.gauge(
      'sync_waiters',
      'Deliveries waiting now in this ingest process (each holds one LMTP or LDA process on A)',
      { collect: (gauge) => gauge.set(waitingNow()) },
    );
  }

  observe(outcome: SyncWaitOutcome, seconds: number): void {
    this.waits.inc({ outcome });
    this.seconds.observe({ outcome }, seconds);
  }
}
