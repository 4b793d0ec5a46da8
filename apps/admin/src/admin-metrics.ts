import type { Gauge, Registry } from 'prom-client';
import { MetricFactory } from '@dovewarden/shared';

/** The BullMQ states a sync job can be in, as getJobCounts() names them. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface JobCounter {
  getJobCounts(...types: QueueState[]): Promise<Record<string, number>>;
}

/** A scrape must answer even when Redis hangs: the admin connection waits for Redis forever. */
export const COUNT_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Queue depth by state, read from Redis at scrape time. Admin exports it because it is the one
 * app that exists to look at the queue; every admin replica reports the same queue-wide counts,
 * so dashboards take max() over instances, not sum().
 */
export class AdminMetrics {
  readonly queueJobs: Gauge<'state'>;

  constructor(registry: Registry, queue: JobCounter) {
    this.queueJobs = new MetricFactory(registry).gauge(
      'queue_jobs',
      'Sync jobs in the replication queue by BullMQ state (waiting and prioritized are both queued; every sync has a priority, so most wait in prioritized)',
      {
        labelNames: ['state'],
        async collect(gauge) {
          try {
            const counts = await withTimeout(queue.getJobCounts(...QUEUE_STATES), COUNT_TIMEOUT_MS);
            for (const state of QUEUE_STATES) gauge.set({ state }, counts[state] ?? 0);
          } catch {
            // Redis down or slow: keep the last values rather than fail the whole scrape.
          }
        },
      },
    );
  }
}
