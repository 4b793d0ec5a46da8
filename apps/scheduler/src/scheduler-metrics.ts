import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';

export class SchedulerMetrics {
  readonly usersListed: Gauge;
  readonly usersQueued: Counter<'kind'>;
  readonly sweepSeconds: Histogram;
  readonly lastSweep: Gauge;
  readonly staleUsers: Gauge;
  readonly interval: Gauge;
  readonly usersRemaining: Gauge;
  readonly usersQueuedThisSweep: Gauge;

  /** intervalMs: BACKGROUND_REPLICATION_INTERVAL, so alerts need not repeat the setting. */
  constructor(registry: Registry, intervalMs: number) {
    this.usersListed = new Gauge({
      name: `${METRIC_PREFIX}sweep_users_listed`,
      help: 'Users doveadm listed in the last sweep',
      registers: [registry],
    });
    this.usersQueued = new Counter({
      name: `${METRIC_PREFIX}sweep_users_queued_total`,
      help: 'Users queued by sweeps: stale (or never synced), or due a full sync',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.sweepSeconds = new Histogram({
      name: `${METRIC_PREFIX}sweep_duration_seconds`,
      help: 'Duration of a background sweep',
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    });
    this.lastSweep = new Gauge({
      name: `${METRIC_PREFIX}sweep_last_success_timestamp_seconds`,
      help: 'When the last sweep finished, as a unix time',
      registers: [registry],
    });
    this.staleUsers = new Gauge({
      name: `${METRIC_PREFIX}users_stale`,
      help: 'Listed users with no successful sync within the threshold at the last sweep (what the old replicator was alerted on)',
      registers: [registry],
    });
    this.interval = new Gauge({
      name: `${METRIC_PREFIX}sweep_interval_seconds`,
      help: 'BACKGROUND_REPLICATION_INTERVAL: a sweep is due this often (alert when two are missed)',
      registers: [registry],
    });
    this.interval.set(intervalMs / 1000);
    this.usersRemaining = new Gauge({
      name: `${METRIC_PREFIX}sweep_users_remaining`,
      help: 'Listed users the running sweep has yet to look at (0 when no sweep runs)',
      registers: [registry],
    });
    this.usersQueuedThisSweep = new Gauge({
      name: `${METRIC_PREFIX}sweep_users_queued`,
      help: 'Users the running (or last) sweep has queued so far; it queues them as the workers drain the queue',
      registers: [registry],
    });
  }
}
