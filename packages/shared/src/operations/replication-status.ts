import { Job } from 'bullmq';
import type { RedisClient } from '../redis/redis-connection';
import { type SyncPriority, type SyncUserJobData, userDedupId } from '../queue/catalogue';
import type { StateKeys } from '../queue/state-keys';
import type { SyncQueue } from '../queue/sync-queue';

/** What operators ask about one user: `doveadm replicator status USER`, and more. */
export interface UserStatus {
  user: string;
  /** ms since the epoch, or null: never. */
  lastSuccess: number | null;
  lastFullSync: number | null;
  lastFailure: { at: number; code: string; exitCode: number | null; message: string } | null;
  failed: boolean;
  unknownToDoveadm: boolean;
  /** The user's pending or running sync, if any. */
  queue: { jobId: string; state: string; priority: number; attemptsMade: number } | null;
  destinations: {
    destination: string;
    lastSuccess: number | null;
    lastFullSync: number | null;
    hasState: boolean;
  }[];
}

export interface OverallStatus {
  queued: number;
  active: number;
  /** Waiting to be retried after a failure, or handed back. */
  delayed: number;
  failed: number;
  usersKnown: number;
  usersStale: number;
  usersMarkedFailed: number;
  thresholdMs: number;
}

export interface ActiveSync {
  user: string;
  jobId: string;
  startedAt: number | null;
  attemptsMade: number;
  reason: SyncUserJobData['reason'] | null;
}

function score(value: string | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/**
 * The read and write operations behind the admin API and the operator CLI, so that both give
 * the same answers and "replicate now" runs the same code from either.
 */
export class ReplicationStatus {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly syncQueue: SyncQueue,
    private readonly destinations: readonly string[],
  ) {}

  async user(user: string): Promise<UserStatus> {
    const { keys } = this;
    const pipeline = this.redis
      .pipeline()
      .zscore(keys.lastSuccess, user)
      .hgetall(keys.userStatus(user))
      .zscore(keys.failedUsers, user)
      .zscore(keys.unknownUsers, user);
    for (const destination of this.destinations) {
      pipeline
        .zscore(keys.lastSuccessAt(destination), user)
        .zscore(keys.lastFullSyncAt(destination), user)
        .exists(keys.dsyncState(destination, user));
    }
    const replies = ((await pipeline.exec()) ?? []).map(([error, reply]) => {
      if (error) throw error;
      return reply;
    });
    const status = (replies[1] ?? {}) as Record<string, string>;
    const destinations = this.destinations.map((destination, index) => {
      const base = 4 + index * 3;
      return {
        destination,
        lastSuccess: score(replies[base] as string | null),
        lastFullSync: score(replies[base + 1] as string | null),
        hasState: replies[base + 2] === 1,
      };
    });
    const fullSyncs = destinations
      .map((entry) => entry.lastFullSync)
      .filter((at): at is number => at !== null);
    return {
      user,
      lastSuccess: score(replies[0] as string | null),
      lastFullSync:
        fullSyncs.length === destinations.length && fullSyncs.length > 0
          ? Math.min(...fullSyncs)
          : null,
      lastFailure:
        status['lastFailureAt'] === undefined
          ? null
          : {
              at: Number(status['lastFailureAt']),
              code: status['lastFailureCode'] ?? '',
              exitCode: status['lastFailureExitCode']
                ? Number(status['lastFailureExitCode'])
                : null,
              message: status['lastFailureMessage'] ?? '',
            },
      failed: replies[2] !== null,
      unknownToDoveadm: replies[3] !== null,
      queue: await this.pendingJob(user),
      destinations,
    };
  }

  private async pendingJob(user: string): Promise<UserStatus['queue']> {
    const jobId = await this.syncQueue.queue.getDeduplicationJobId(userDedupId(user));
    if (jobId === null) return null;
    const job = await Job.fromId(this.syncQueue.queue, jobId);
    if (job === undefined) return null;
    return {
      jobId,
      state: await job.getState(),
      priority: job.priority,
      attemptsMade: job.attemptsMade,
    };
  }

  async overall(thresholdMs: number, now = Date.now()): Promise<OverallStatus> {
    const counts = await this.syncQueue.queue.getJobCounts(
      'waiting',
      'prioritized',
      'active',
      'delayed',
      'failed',
    );
    const [usersKnown, usersStale, usersMarkedFailed] = await Promise.all([
      this.redis.zcard(this.keys.lastSuccess),
      this.redis.zcount(this.keys.lastSuccess, '-inf', `(${now - thresholdMs}`),
      this.redis.zcard(this.keys.failedUsers),
    ]);
    return {
      queued: (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0),
      active: counts['active'] ?? 0,
      delayed: counts['delayed'] ?? 0,
      failed: counts['failed'] ?? 0,
      usersKnown,
      usersStale,
      usersMarkedFailed,
      thresholdMs,
    };
  }

  /** The syncs running now, like `doveadm replicator dsync-status`. */
  async active(): Promise<ActiveSync[]> {
    const jobs = (await this.syncQueue.queue.getJobs(['active'], 0, 999)) as Job<
      Partial<SyncUserJobData>
    >[];
    return jobs.map((job) => ({
      user: typeof job.data.user === 'string' ? job.data.user : '',
      jobId: job.id ?? '',
      startedAt: job.processedOn ?? null,
      attemptsMade: job.attemptsMade,
      reason: job.data.reason ?? null,
    }));
  }

  /** "Replicate now", for the CLI and the admin API alike. */
  replicate(
    users: readonly string[],
    options: { full: boolean; priority: SyncPriority },
  ): Promise<unknown> {
    return Promise.all(
      users.map((user) =>
        this.syncQueue.enqueue(
          {
            user,
            reason: { kind: 'manual' },
            requestedAt: Date.now(),
            ...(options.full ? { fullSync: true } : {}),
          },
          options.priority,
        ),
      ),
    );
  }

  /** Drops the user's pending job (not a running one), dsync states and marks. */
  async remove(user: string): Promise<{ removedJob: boolean }> {
    let removedJob = false;
    const pending = await this.pendingJob(user);
    if (pending !== null && pending.state !== 'active') {
      const job = await Job.fromId(this.syncQueue.queue, pending.jobId);
      if (job !== undefined) {
        await job.remove();
        removedJob = true;
      }
      await this.syncQueue.queue.removeDeduplicationKey(userDedupId(user));
    }
    const { keys } = this;
    const transaction = this.redis
      .multi()
      .zrem(keys.lastSuccess, user)
      .zrem(keys.failedUsers, user)
      .zrem(keys.unknownUsers, user)
      .del(keys.userStatus(user), keys.syncRequest(user), keys.claimedSyncRequest(user));
    for (const destination of this.destinations) {
      transaction
        .del(keys.dsyncState(destination, user))
        .zrem(keys.lastSuccessAt(destination), user)
        .zrem(keys.lastFullSyncAt(destination), user);
    }
    await transaction.exec();
    return { removedJob };
  }
}
