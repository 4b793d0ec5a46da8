import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';

export type SyncResult =
  | 'success'
  | 'changed'
  | 'temporary'
  | 'permanent'
  | 'unknown-user'
  | 'configuration'
  | 'aborted'
  | 'error';

export class WorkerMetrics {
  readonly syncs: Counter<'result' | 'type'>;
  readonly syncSeconds: Histogram<'type'>;
  readonly replicationDelaySeconds: Histogram;

  constructor(registry: Registry) {
    this.syncs = new Counter({
      name: `${METRIC_PREFIX}syncs_total`,
      help: 'Sync jobs finished, by result and type (incremental or full)',
      labelNames: ['result', 'type'],
      registers: [registry],
    });
    this.syncSeconds = new Histogram({
      name: `${METRIC_PREFIX}sync_duration_seconds`,
      help: 'Duration of a sync job, exit 2 re-runs included',
      labelNames: ['type'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.replicationDelaySeconds = new Histogram({
      name: `${METRIC_PREFIX}replication_delay_seconds`,
      help: 'From the change being seen (event or request) to the successful sync that carried it',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    });
  }
}
