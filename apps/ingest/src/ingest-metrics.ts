import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';

export type EventOutcome = 'queued' | 'filtered' | 'invalid' | 'unavailable' | 'failed';

export class IngestMetrics {
  readonly events: Counter<'event' | 'outcome'>;
  readonly enqueueSeconds: Histogram;

  constructor(registry: Registry) {
    this.events = new Counter({
      name: `${METRIC_PREFIX}events_received_total`,
      help: 'Dovecot events received, by event name and outcome',
      labelNames: ['event', 'outcome'],
      registers: [registry],
    });
    this.enqueueSeconds = new Histogram({
      name: `${METRIC_PREFIX}ingest_enqueue_duration_seconds`,
      help: 'Time to queue a sync in Redis, as seen by ingest',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
  }

  count(event: string, outcome: EventOutcome): void {
    // Unknown event names come from the network; keep label cardinality bounded.
    const label =
      event === 'imap_command_finished' || event === 'mail_delivery_finished' ? event : 'other';
    this.events.inc({ event: label, outcome });
  }
}
