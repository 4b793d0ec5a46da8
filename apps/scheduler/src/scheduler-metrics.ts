import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricFactory } from '@dovewarden/shared';

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
    const metric = new MetricFactory(registry);
    this.usersListed = metric.gauge('sweep_users_listed', 'Users doveadm listed in the last sweep');
    this.usersQueued = metric.counter(
      'sweep_users_queued_total',
      'Users queued by sweeps: stale (or never synced), or due a full sync',
      ['kind'],
    );
    this.sweepSeconds = metric.histogram(
      'sweep_duration_seconds',
      'Duration of a background sweep',
      [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300],
    );
    this.lastSweep = metric.gauge(
      'sweep_last_success_timestamp_seconds',
      'When the last sweep finished, as a unix time',
    );
    this.staleUsers = metric.gauge(
      'users_stale',
      'Listed users with no successful sync within the threshold at the last sweep (what the old replicator was alerted on)',
    );
    this.interval = metric.gauge(
      'sweep_interval_seconds',
      'BACKGROUND_REPLICATION_INTERVAL: a sweep is due this often (alert when two are missed)',
    );
    this.interval.set(intervalMs / 1000);
    this.usersRemaining = metric.gauge(
      'sweep_users_remaining',
      'Listed users the running sweep has yet to look at (0 when no sweep runs)',
    );
    this.usersQueuedThisSweep = metric.gauge(
      'sweep_users_queued',
      'Users the running (or last) sweep has queued so far; it queues them as the workers drain the queue',
    );
  }
}
