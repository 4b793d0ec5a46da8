import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';

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
    this.events = new Counter({
      name: `${METRIC_PREFIX}ingest_events_total`,
      help: 'Events received on POST /events, by outcome and reason (a bounded set)',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    });
    this.requestSeconds = new Histogram({
      name: `${METRIC_PREFIX}ingest_request_duration_seconds`,
      help: 'Time from request start to answer, by HTTP status',
      labelNames: ['code'],
      // Dovecot gives up after 250 ms by default; resolve 1 ms to 250 ms.
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.175, 0.25, 0.5, 1],
      registers: [registry],
    });
    this.enqueueErrors = new Counter({
      name: `${METRIC_PREFIX}ingest_enqueue_errors_total`,
      help: 'Syncs that could not be queued: unavailable (Redis down, 503) or failed (500)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.merged = new Counter({
      name: `${METRIC_PREFIX}ingest_jobs_merged_total`,
      help: 'Events folded into a sync already pending for the user',
      registers: [registry],
    });
    this.priorityRaised = new Counter({
      name: `${METRIC_PREFIX}ingest_priority_raised_total`,
      help: 'Pending syncs whose priority an event raised (e.g. a waiting background sync)',
      registers: [registry],
    });
    const counter = (name: string, help: string): Counter =>
      new Counter({ name: `${METRIC_PREFIX}${name}`, help, registers: [registry] });
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
