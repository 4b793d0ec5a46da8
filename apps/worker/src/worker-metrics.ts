import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';

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
    this.syncs = new Counter({
      name: `${METRIC_PREFIX}syncs_total`,
      help: 'Sync jobs finished, by outcome, doveadm exit code (none when there was none) and type',
      labelNames: ['outcome', 'exit_code', 'type'],
      registers: [registry],
    });
    this.syncSeconds = new Histogram({
      name: `${METRIC_PREFIX}sync_duration_seconds`,
      help: 'Duration of a sync job to all destinations, exit 2 re-runs included',
      labelNames: ['type'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.lagSeconds = new Histogram({
      name: `${METRIC_PREFIX}replication_lag_seconds`,
      help: 'From the first change a sync covered to the end of that successful sync; source: live (events and operators) or background (the sweep alone)',
      labelNames: ['source'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
      registers: [registry],
    });
    this.folderRepairs = new Counter({
      name: `${METRIC_PREFIX}replica_folder_repairs_total`,
      help: 'Folders dsync -1 left apart on the replica (an old name, or a folder the source deleted): renamed or deleted there, blocked (the name is taken, or the delete failed), or error (the comparison failed)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.inProgress = new Gauge({
      name: `${METRIC_PREFIX}syncs_in_progress`,
      help: 'Syncs running in this process now',
      registers: [registry],
    });
    this.failedUsers = new Gauge({
      name: `${METRIC_PREFIX}failed_users`,
      help: 'Users whose sync failed for good (attempts used up, or unknown to doveadm)',
      registers: [registry],
      async collect() {
        try {
          this.set(await countFailedUsers());
        } catch {
          // Redis down: keep the last value rather than fail the whole scrape.
        }
      },
    });
    // /readyz says so too, but a probe result is not kept: alerts and dashboards need a series.
    this.configurationPaused = new Gauge({
      name: `${METRIC_PREFIX}worker_configuration_paused`,
      help: '1 while this worker is paused because doveadm refuses it (wrong password, exit 77 or 78), else 0',
      registers: [registry],
      collect() {
        this.set(isConfigurationPaused() ? 1 : 0);
      },
    });
  }
}
