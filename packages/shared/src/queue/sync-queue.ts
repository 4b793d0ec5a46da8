import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JobName,
  QueueName,
  SYNC_JOB_DEFAULTS,
  SyncPriority,
  type SyncUserJobData,
  userDedupId,
} from './catalogue';

/**
 * The one way to ask for a user's sync, used by ingest, the scheduler and the admin tools.
 * One pending job per user: deduplication keyed by user with keepLastIfActive, so a change
 * that arrives while that user's sync runs yields exactly one more sync after it.
 */
export class SyncQueue {
  readonly queue: Queue;

  constructor(connection: Redis, namespace: string) {
    this.queue = new Queue(QueueName.Replication, {
      connection,
      prefix: namespace,
      defaultJobOptions: SYNC_JOB_DEFAULTS,
    });
  }

  async enqueue(
    data: SyncUserJobData,
    priority: SyncPriority = SyncPriority.Normal,
  ): Promise<string | undefined> {
    const job = await this.queue.add(JobName.SyncUser, data, {
      priority,
      deduplication: { id: userDedupId(data.user), keepLastIfActive: true },
    });
    return job.id;
  }

  /** Queues many syncs in one round trip (the background sweep queues thousands at once). */
  async enqueueMany(items: readonly SyncUserJobData[], priority: SyncPriority): Promise<void> {
    if (items.length === 0) return;
    await this.queue.addBulk(
      items.map((data) => ({
        name: JobName.SyncUser,
        data,
        opts: { priority, deduplication: { id: userDedupId(data.user), keepLastIfActive: true } },
      })),
    );
  }

  waitUntilReady(): Promise<unknown> {
    return this.queue.waitUntilReady();
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
