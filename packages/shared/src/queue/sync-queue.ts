import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JobName,
  QueueName,
  SYNC_JOB_DEFAULTS,
  SyncPriority,
  type SyncUserJobData,
  userDedupId,
} from './catalogue';

export interface EnqueueResult {
  /** The pending job that will carry the change. */
  jobId: string;
  /** True when the change was folded into a sync already pending for the user. */
  merged: boolean;
  /** True when that pending sync's priority was raised for this change. */
  raised: boolean;
}

/** A fresh id tells a new job from a merge: BullMQ answers a merge with the pending job's id. */
function newJobId(): string {
  return `s-${randomUUID()}`;
}

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

  /**
   * Queues a sync, or merges it into the user's pending one. A merged add keeps the pending
   * job's priority, so a change must raise it explicitly: an event for a user whose background
   * sync still waits must not wait behind the whole background backlog.
   */
  async enqueue(
    data: SyncUserJobData,
    priority: SyncPriority = SyncPriority.Normal,
  ): Promise<EnqueueResult> {
    const jobId = newJobId();
    const job = await this.queue.add(JobName.SyncUser, data, {
      jobId,
      priority,
      deduplication: { id: userDedupId(data.user), keepLastIfActive: true },
    });
    const pendingId = job.id ?? jobId;
    if (pendingId === jobId) return { jobId, merged: false, raised: false };
    return {
      jobId: pendingId,
      merged: true,
      raised: await this.raisePriority(pendingId, priority),
    };
  }

  private async raisePriority(jobId: string, priority: SyncPriority): Promise<boolean> {
    const pending = await Job.fromId(this.queue, jobId);
    const wanted: number = priority;
    // Priority 0 is BullMQ's "none", which already runs before every prioritized job.
    if (pending === undefined || pending.priority === 0 || pending.priority <= wanted) {
      return false;
    }
    const state = await pending.getState();
    if (state !== 'prioritized' && state !== 'waiting' && state !== 'delayed') return false;
    try {
      await pending.changePriority({ priority });
      return true;
    } catch {
      // It started or finished meanwhile: the sync that runs now covers this change anyway.
      return false;
    }
  }

  /** Queues many syncs in one round trip (the background sweep queues thousands at once). */
  async enqueueMany(items: readonly SyncUserJobData[], priority: SyncPriority): Promise<void> {
    if (items.length === 0) return;
    await this.queue.addBulk(
      items.map((data) => ({
        name: JobName.SyncUser,
        data,
        opts: {
          jobId: newJobId(),
          priority,
          deduplication: { id: userDedupId(data.user), keepLastIfActive: true },
        },
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
