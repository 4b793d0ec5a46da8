import { Job } from 'bullmq';
import {
  SyncPriority,
  type SyncPriorityName,
  type SyncUserJobData,
  syncPriorityName,
  userDedupId,
} from '../queue/catalogue';
import type { SyncQueue } from '../queue/sync-queue';
import type { DifferingUser } from '../verification/verification-ledger';
import type { SyncWaitTally } from '../ingest/sync-wait-ledger';
import type { ReplicationState } from '../replication/replication-state';
import type { UserReplicationStatus, UserSummary } from '../replication/replication-status';
import type { UserMask } from './user-mask';

/** What operators ask about one user: `doveadm replicator status USER`, and more. */
export interface UserStatus extends UserReplicationStatus {
  user: string;
  /** The user's pending or running sync, if any. */
  queue: { jobId: string; state: string; priority: number; attemptsMade: number } | null;
  /**
   * When B's own events first reported a change of the user there since its last failback
   * (ms), or null: the backup mode syncs such a user one-way until `dovewarden failback`.
   */
  servedByReplicaSince: number | null;
  /**
   * The background verifier's word on the user: what differed at its last verification, or
   * null when it is not known to differ (every user the last walk verified was equal).
   */
  verification: { differing: DifferingUser | null; lastWalk: LastWalk | null };
}

/** The last verification walk that went over every user. */
export interface LastWalk {
  startedAt: number;
  finishedAt: number;
  checked: number;
  equal: number;
  differing: number;
  skipped: number;
  errors: number;
}

export interface OverallStatus {
  queued: number;
  /**
   * Queued syncs by priority: deliveries waiting for B (sync-wait), live new mail (high), other
   * live changes (normal), background (low).
   */
  queuedByPriority: { deliveryWait: number; high: number; normal: number; low: number };
  active: number;
  /** Waiting to be retried after a failure, or handed back. */
  delayed: number;
  failed: number;
  usersKnown: number;
  usersStale: number;
  usersMarkedFailed: number;
  /** Users B served (its own events said so) that wait for a failback. */
  usersServedByReplica: number;
  /** Users the background verifier knows to differ between B and A. */
  usersDiffering: number;
  lastVerificationWalk: LastWalk | null;
  /** How ingest answered deliveries that waited for B (POST /sync-wait); null if none ever did. */
  syncWait: SyncWaitTally | null;
  thresholdMs: number;
}

/** One page of a user list (failed or stale users), as the admin API pages it. */
export interface UserPage {
  users: { user: string; at: number }[];
  total: number;
  offset: number;
  limit: number;
  /** The offset of the next page, or null after the last one. */
  next: number | null;
}

/** A row of `status MASK`: the user's times and marks, and the priority of its pending sync. */
export interface UserRow extends UserSummary {
  /** The priority of the user's queued or running sync; 'none' when nothing is pending. */
  priority: SyncPriorityName | 'none';
}

export interface ActiveSync {
  user: string;
  jobId: string;
  startedAt: number | null;
  attemptsMade: number;
  reason: SyncUserJobData['reason'] | null;
  /** As the job asked; a sync may still turn full (by age, or after an abandoned call). */
  type: 'full' | 'incremental';
}

/**
 * What operators do, from the admin API and the CLI alike, so that both give the same answers
 * and "replicate now" runs the same code from either: read a user's or the whole status, list
 * running syncs, queue syncs, remove a user.
 */
export class OperatorActions {
  constructor(
    private readonly state: ReplicationState,
    private readonly syncQueue: SyncQueue,
    private readonly destinations: readonly string[],
  ) {}

  async user(user: string): Promise<UserStatus> {
    const { destinations, ...status } = await this.state.status.userStatus(user, this.destinations);
    const served = await this.state.replicaService.servedSince(user);
    const [differing, lastWalk] = await Promise.all([
      this.state.verification.differing(user),
      this.lastWalk(),
    ]);
    return {
      user,
      ...status,
      queue: await this.pendingJob(user),
      servedByReplicaSince: served ?? null,
      verification: { differing: differing ?? null, lastWalk },
      destinations,
    };
  }

  private async lastWalk(): Promise<LastWalk | null> {
    const walk = await this.state.verification.lastWalk();
    if (walk === undefined) return null;
    const { startedAt, finishedAt, checked, equal, differing, skipped, errors } = walk;
    return { startedAt, finishedAt, checked, equal, differing, skipped, errors };
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
    const users = await this.state.status.userCounts(thresholdMs, now);
    const byPriority = await this.syncQueue.queue.getCountsPerPriority([
      SyncPriority.DeliveryWait,
      SyncPriority.High,
      SyncPriority.Normal,
      SyncPriority.Low,
    ]);
    return {
      queued: (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0),
      queuedByPriority: {
        deliveryWait: byPriority[String(SyncPriority.DeliveryWait)] ?? 0,
        high: byPriority[String(SyncPriority.High)] ?? 0,
        normal: byPriority[String(SyncPriority.Normal)] ?? 0,
        low: byPriority[String(SyncPriority.Low)] ?? 0,
      },
      active: counts['active'] ?? 0,
      delayed: counts['delayed'] ?? 0,
      failed: counts['failed'] ?? 0,
      ...users,
      usersServedByReplica: await this.state.replicaService.count(),
      usersDiffering: await this.state.verification.differingCount(),
      lastVerificationWalk: await this.lastWalk(),
      syncWait: (await this.state.syncWaits.tally()) ?? null,
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
      type: job.data.fullSync === true ? 'full' : 'incremental',
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

  /**
   * The users the masks name, in batches: a mask without wildcards is the one user it names
   * (known or not: queueing a new user must work), a mask with `*` or `?` every known user it
   * matches (see ReplicationState.scanKnownUsers for the cost: steps of `count`, never the whole
   * list in memory).
   */
  async *resolve(masks: Iterable<UserMask>, count = 1000): AsyncGenerator<string[]> {
    for (const mask of masks) {
      if (!mask.isPattern) {
        yield [mask.text];
        continue;
      }
      for await (const users of this.state.status.scanKnownUsers(mask.redisPattern, count)) {
        // Redis matched already; this keeps doveadm's meaning should the two globs ever differ.
        const matched = users.filter((user) => mask.matches(user));
        if (matched.length > 0) yield matched;
      }
    }
  }

  /** The `status MASK` rows of a batch of users. */
  async rows(users: readonly string[]): Promise<UserRow[]> {
    const [summaries, priorities] = await Promise.all([
      this.state.status.userSummaries(users, this.destinations),
      this.pendingPriorities(users),
    ]);
    return summaries.map((summary, i) => ({ ...summary, priority: priorities[i] ?? 'none' }));
  }

  private async pendingPriorities(users: readonly string[]): Promise<UserRow['priority'][]> {
    const { queue } = this.syncQueue;
    const jobIds = await Promise.all(
      users.map((user) => queue.getDeduplicationJobId(userDedupId(user))),
    );
    return Promise.all(
      jobIds.map(async (jobId) => {
        if (jobId === null) return 'none';
        const job = await Job.fromId(queue, jobId);
        return job === undefined ? 'none' : (syncPriorityName(job.priority) ?? 'none');
      }),
    );
  }

  /** Users marked failed (attempts used up or a permanent failure), oldest mark first. */
  async failedUsers(offset: number, limit: number): Promise<UserPage> {
    return this.page(await this.state.status.listUsers('failed', { offset, limit }), offset, limit);
  }

  /** Users without a successful sync for longer than thresholdMs, longest first. */
  async staleUsers(
    thresholdMs: number,
    offset: number,
    limit: number,
    now = Date.now(),
  ): Promise<UserPage> {
    const found = await this.state.status.listUsers('stale', {
      offset,
      limit,
      staleBefore: now - thresholdMs,
    });
    return this.page(found, offset, limit);
  }

  private page(
    found: { users: { user: string; at: number }[]; total: number },
    offset: number,
    limit: number,
  ): UserPage {
    const end = offset + found.users.length;
    return { ...found, offset, limit, next: end < found.total ? end : null };
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
    await this.state.status.removeUser(user, this.destinations);
    return { removedJob };
  }
}
