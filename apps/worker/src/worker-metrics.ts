import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricFactory } from '@dovewarden/shared';

export type SyncOutcome =
  | 'success'
  | 'changed'
  | 'temporary'
  | 'permanent'
  | 'unknown-user'
  | 'configuration'
  | 'aborted'
  | 'lease-held'
  | 'error';

export class WorkerMetrics {
  readonly syncs: Counter<'outcome' | 'exit_code' | 'type'>;
  readonly syncSeconds: Histogram<'type'>;
  readonly lagSeconds: Histogram<'source'>;
  readonly inProgress: Gauge;
  readonly failedUsers: Gauge;
  readonly configurationPaused: Gauge;
  readonly folderRepairs: Counter<'result'>;

  constructor(
    registry: Registry,
    countFailedUsers: () => Promise<number>,
    /** True while a configuration problem (401, exit 77/78) holds the worker paused. */
    isConfigurationPaused: () => boolean = () => false,
  ) {
    const metric = new MetricFactory(registry);
    this.syncs = metric.counter(
      'syncs_total',
      'Sync jobs finished, by outcome, doveadm exit code (none when there was none) and type',
      ['outcome', 'exit_code', 'type'],
    );
    this.syncSeconds = metric.histogram(
      'sync_duration_seconds',
      'Duration of a sync job to all destinations, exit 2 re-runs included',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      ['type'],
    );
    this.lagSeconds = metric.histogram(
      'replication_lag_seconds',
      'From the first change a sync covered to the end of that successful sync; source: live (events and operators) or background (the sweep alone)',
      [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
      ['source'],
    );
    this.folderRepairs = metric.counter(
      'replica_folder_repairs_total',
      'Folders dsync -1 left apart on the replica (an old name, or a folder the source deleted): renamed or deleted there, blocked (the name is taken, or the delete failed), or error (the comparison failed)',
      ['result'],
    );
    this.inProgress = metric.gauge('syncs_in_progress', 'Syncs running in this process now');
    this.failedUsers = metric.gauge(
      'failed_users',
      'Users whose sync failed for good (attempts used up, or unknown to doveadm)',
      {
        async collect(gauge) {
          try {
            gauge.set(await countFailedUsers());
          } catch {
            // Redis down: keep the last value rather than fail the whole scrape.
          }
        },
      },
    );
    // /readyz says so too, but a probe result is not kept: alerts and dashboards need a series.
    this.configurationPaused = metric.gauge(
      'worker_configuration_paused',
      '1 while this worker is paused because doveadm refuses it (wrong password, exit 77 or 78), else 0',
      { collect: (gauge) => gauge.set(isConfigurationPaused() ? 1 : 0) },
    );
  }
}
