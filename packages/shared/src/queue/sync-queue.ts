import { randomUUID } from 'node:crypto';
import { type DeduplicationOptions, Job, Queue, type Telemetry } from 'bullmq';
import type { RedisClient } from '../redis/redis-connection';
import {
  JobName,
  QueueName,
  SYNC_JOB_DEFAULTS,
  SyncPriority,
  type SyncUserJobData,
  userDedupId,
} from './catalogue';
import { ReplicationState } from '../replication/replication-state';
import { type SyncRequests, type SyncWaiterToken, jobDataOf } from '../replication/sync-requests';

export interface EnqueueResult {
  /** The pending job that will carry the change. */
  jobId: string;
  /** True when the change was folded into a sync already pending for the user. */
  merged: boolean;
  /** True when that pending sync's priority was raised for this change. */
  raised: boolean;
}

/**
 * The one shape of a sync job: one pending job per user (deduplication keyed by user, with
 * keepLastIfActive), under a fresh id, which tells a new job from a merge: BullMQ answers a
 * merge with the pending job's id.
 */
function syncJob(
  data: SyncUserJobData,
  priority: SyncPriority,
): {
  name: JobName.SyncUser;
  data: SyncUserJobData;
  opts: { jobId: string; priority: number; deduplication: DeduplicationOptions };
} {
  return {
    name: JobName.SyncUser,
    data,
    opts: {
      jobId: `s-${randomUUID()}`,
      priority,
      deduplication: { id: userDedupId(data.user), keepLastIfActive: true },
    },
  };
}

/**
 * The one way to ask for a user's sync, used by ingest, the scheduler and the admin tools.
 * One pending job per user: deduplication keyed by user with keepLastIfActive, so a change
 * that arrives while that user's sync runs yields exactly one more sync after it. Every
 * request is first merged into the user's SyncRequests hash, so that no merge loses a full
 * sync, a priority or the earliest change time.
 */
export class SyncQueue {
  readonly queue: Queue;
  readonly requests: SyncRequests;

  constructor(
    private readonly connection: RedisClient,
    namespace: string,
    options: { attempts?: number; telemetry?: Telemetry | undefined } = {},
  ) {
    this.requests = new ReplicationState(connection, namespace).requests;
    this.queue = new Queue(QueueName.Replication, {
      connection,
      prefix: namespace,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
      defaultJobOptions: {
        ...SYNC_JOB_DEFAULTS,
        ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
      },
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
    waiter?: SyncWaiterToken,
  ): Promise<EnqueueResult> {
    // As queue.add() would, wait for the connection (a producer's has no offline queue).
    await this.queue.waitUntilReady();
    // Both in one round trip: the merge is sent first on the same connection, so Redis has it
    // before the job (a sync that starts after the add sees the request, whichever job runs
    // it). The job carries the request as asked; the sync takes the merge from Redis (claim).
    const recorded = this.requests.record(data, priority, waiter);
    const { name, data: jobData, opts } = syncJob(data, priority);
    const [merged, job] = await Promise.all([recorded, this.queue.add(name, jobData, opts)]);
    const pendingId = job.id ?? opts.jobId;
    const jobId = opts.jobId;
    if (pendingId === jobId) {
      // A request merged earlier asked for a higher priority than this one: the new job gets it.
      const raised =
        merged.priority < priority && (await this.raisePriority(jobId, merged.priority));
      return { jobId, merged: false, raised };
    }
    // Folded into a pending job, or kept as the follow-up of a running one (keepLastIfActive,
    // which keeps the last add's data and priority). When the merge asks for more than this
    // request did, the follow-up must carry it: add it again with the merge. The earliest
    // change time needs no second add; the sync takes it from the claim.
    if (
      merged.priority < priority ||
      (merged.fullSync && data.fullSync !== true) ||
      (merged.secondPass && data.secondPass !== true)
    ) {
      const again = syncJob(jobDataOf(data, merged), merged.priority);
      await this.queue.add(again.name, again.data, again.opts);
    }
    // The pending job has had the open request's priority since that request was recorded
    // (created with it, or raised to it): when this request did not raise the merge, the job
    // needs nothing. Otherwise (or with no open request to go by) ask the job itself.
    if (merged.priorityBefore !== null && merged.priorityBefore <= Number(merged.priority))
      return { jobId: pendingId, merged: true, raised: false };
    const current = Number(await this.connection.hget(this.queue.toKey(pendingId), 'priority'));
    return {
      jobId: pendingId,
      merged: true,
      raised: await this.raiseIfLower(pendingId, current, merged.priority),
    };
  }

  private async raiseIfLower(jobId: string, current: number, wanted: number): Promise<boolean> {
    // Priority 0 is BullMQ's "none", which already runs before every prioritized job.
    if (!Number.isFinite(current) || current === 0 || current <= wanted) return false;
    return this.raisePriority(jobId, wanted);
  }

  private async raisePriority(jobId: string, priority: number): Promise<boolean> {
    const pending = await Job.fromId(this.queue, jobId);
    if (pending === undefined) return false;
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
    await this.queue.waitUntilReady();
    const merges = await this.requests.recordMany(items.map((data) => ({ data, priority })));
    await this.queue.addBulk(merges.map((merge) => syncJob(merge.data, merge.priority)));
  }

  /**
   * Syncs queued and not yet started (waiting or prioritized; not retrying ones): what the
   * background feeder keeps bounded so that it never floods the queue.
   */
  async pendingCount(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized');
    return (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0);
  }

  /**
   * Puts the syncs that a dead run left "active" back to waiting, at once. Only for a Redis
   * that no live worker uses: the all-in-one's embedded one, after the run marker showed that
   * the last run was killed. Left alone, BullMQ's stall check takes them over only one to two
   * lock durations after the restart, and changes merged into them wait that long. The dead
   * run's user leases stay: a dsync it started may still run on A until they expire.
   */
  async requeueJobsOfDeadRun(): Promise<string[]> {
    await this.queue.waitUntilReady();
    const requeued: string[] = [];
    for (const job of await this.queue.getJobs(['active'])) {
      if (job.id === undefined) continue;
      // BullMQ keeps the lock token at <job key>:lock; passing it releases the lock and the
      // stalled mark with the move. No lock left ('0') moves the job without checking one.
      const token = (await this.connection.get(`${this.queue.toKey(job.id)}:lock`)) ?? '0';
      try {
        await job.moveToWait(token);
        requeued.push(job.id);
      } catch {
        // Finished or moved meanwhile: nothing left to requeue.
      }
    }
    return requeued;
  }

  waitUntilReady(): Promise<unknown> {
    return this.queue.waitUntilReady();
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
