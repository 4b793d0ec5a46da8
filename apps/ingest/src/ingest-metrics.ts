import type { Counter, Histogram, Registry } from 'prom-client';
import { MetricFactory } from '@dovewarden/shared';

export type EventOutcome = 'accepted' | 'filtered' | 'rejected' | 'unavailable' | 'failed';

export class IngestMetrics {
  readonly events: Counter<'outcome' | 'reason'>;
  readonly requestSeconds: Histogram<'code'>;
  readonly enqueueErrors: Counter<'kind'>;
  readonly merged: Counter;
  readonly priorityRaised: Counter;
  /**
   * The Go dovewarden's counters, under its names and meanings, so that its dashboards and
   * alerts keep working: every POST /events, those that passed the filter, those queued, the
   * ones that could not be queued, and the Redis failures behind them.
   */
  readonly goCompatible: {
    received: Counter;
    passedFilter: Counter;
    enqueued: Counter;
    enqueueErrors: Counter;
    redisErrors: Counter;
  };

  constructor(registry: Registry) {
    const metric = new MetricFactory(registry);
    this.events = metric.counter(
      'ingest_events_total',
      'Events received on POST /events, by outcome and reason (a bounded set)',
      ['outcome', 'reason'],
    );
    this.requestSeconds = metric.histogram(
      'ingest_request_duration_seconds',
      'Time from request start to answer, by HTTP status',
      // Dovecot gives up after 250 ms by default; resolve 1 ms to 250 ms.
      [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.5, 1],
      ['code'],
    );
    this.enqueueErrors = metric.counter(
      'ingest_enqueue_errors_total',
      'Syncs that could not be queued: unavailable (Redis down, 503) or failed (500)',
      ['kind'],
    );
    this.merged = metric.counter(
      'ingest_jobs_merged_total',
      'Events folded into a sync already pending for the user',
    );
    this.priorityRaised = metric.counter(
      'ingest_priority_raised_total',
      'Pending syncs whose priority an event raised (e.g. a waiting background sync)',
    );
    const counter = (name: string, help: string): Counter => metric.counter(name, help);
    this.goCompatible = {
      received: counter(
        'events_received_total',
        'Total number of events received from Dovecot (as the Go dovewarden)',
      ),
      passedFilter: counter(
        'events_filtered_total',
        'Total number of events that passed the filter (as the Go dovewarden)',
      ),
      enqueued: counter(
        'events_enqueued_total',
        'Total number of events successfully enqueued (as the Go dovewarden)',
      ),
      enqueueErrors: counter(
        'enqueue_errors_total',
        'Total number of enqueue errors (as the Go dovewarden)',
      ),
      redisErrors: counter(
        'redis_errors_total',
        'Total number of Redis operation errors (as the Go dovewarden)',
      ),
    };
  }
}
