import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { DoveadmError } from '@dovewarden/doveadm-client';
import { type Logger, SyncRequests, parseSyncUserJobData } from '@dovewarden/shared';
import type { ConfigurationGate } from './configuration-gate';
import {
  DestinationsFailedError,
  type ReplicateDeps,
  type ReplicateOutcome,
  SyncKeepsChangingError,
  replicateUser,
} from './replicate-user';
import { retryDelayMs } from './backoff';
import {
  type ReplicaFolderRepairDeps,
  repairReplicaFoldersAfterSync,
} from './replica-folder-repair';
import { UserLease } from './user-lease';
import type { SyncOutcome, WorkerMetrics } from './worker-metrics';

export interface SyncUserHandlerDeps extends ReplicateDeps {
  metrics: WorkerMetrics;
  logger: Logger;
  gate: ConfigurationGate;
  /** True once the worker is stopping: an aborted sync is handed back, not failed. */
  stopping: () => boolean;
  leaseTtlMs: number;
  /** The retry delays of failures; exit 2 re-runs follow them, see below. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /**
   * One-way mode: one per replica that the worker can reach, to finish the folder renames and
   * deletes dsync -1 left undone there (see replica-folder-repair).
   */
  replicaFolders: readonly ReplicaFolderRepairDeps[];
}

/**
 * After a sync that followed a rename, a full sync, or one that saw the source delete
 * mailboxes: finishes on each replica what dsync -1 left undone. True when it changed anything.
 */
async function repairReplicaFoldersOf(
  deps: SyncUserHandlerDeps,
  user: string,
  renamed: boolean,
  outcome: ReplicateOutcome,
  log: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  let changed = false;
  for (const replica of deps.replicaFolders) {
    const departed =
      outcome.destinations.find((d) => d.destination === replica.destination)?.departedMailboxes ??
      [];
    if (!renamed && !outcome.fullSync && departed.length === 0) continue;
    const result = await repairReplicaFoldersAfterSync(
      replica,
      user,
      departed,
      log,
      deps.metrics,
      signal,
    );
    if (result === undefined) continue;
    if (result.settled.length > 0)
      await deps.redis.zrem(
        deps.keys.departedMailboxes(replica.destination, user),
        ...result.settled,
      );
    changed ||= result.renamed.length + result.deleted.length > 0;
  }
  return changed;
}

/**
 * A user whose runs keep ending in exit 2 is synced again after at most 1 s (sooner when
 * failures retry sooner), doubling up to the retry cap: every run moves data, so this is
 * progress, not failure, but it must not spin.
 */
const CHANGED_MAX_BASE_DELAY_MS = 1000;

/**
 * The one full sync of a streak of exit-2 runs, on its fifth hand-back. A full sync repairs
 * what an incremental one cannot see (the maildir INBOX GUID conflict returns exit 2 forever),
 * but a busy user must not pay for one on every run.
 */
const FULL_SYNC_AT_CHANGED_STREAK = 5;

/** Delay before a job handed back (shutdown, lease held) is picked up again. */
const HAND_BACK_DELAY_MS = 1000;

function outcomeOf(error: unknown): SyncOutcome {
  if (error instanceof SyncKeepsChangingError) return 'changed';
  if (!(error instanceof DoveadmError)) return 'error';
  switch (error.kind) {
    case 'changed-during-sync':
      return 'changed';
    case 'temporary':
      return 'temporary';
    case 'unknown-user':
      return 'unknown-user';
    case 'configuration':
      return 'configuration';
    case 'client-bug':
    case 'permanent':
      return 'permanent';
    case 'aborted':
      return 'aborted';
  }
}

function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof DoveadmError || error instanceof SyncKeepsChangingError)
    return error.exitCode;
  return undefined;
}

/** Returns the job to the delayed set without using an attempt: nothing was wrong with it. */
async function handBack(
  job: Job<unknown>,
  token: string | undefined,
  delayMs: number,
): Promise<never> {
  if (token === undefined) throw new Error('cannot hand back a job without its lock token');
  await job.moveToDelayed(Date.now() + delayMs, token);
  throw new DelayedError();
}

/**
 * The processor of sync-user jobs: validate the data, take the user's lease, call
 * replicateUser(), and translate failures into BullMQ's terms.
 * - Unknown user (67) and requests Dovecot refuses fail at once (UnrecoverableError).
 * - Configuration problems pause the worker and hand the job back without using an attempt.
 * - Everything else is retried with the capped exponential backoff.
 */
export function createSyncUserHandler(deps: SyncUserHandlerDeps) {
  const { redis, keys, metrics } = deps;
  const requests = new SyncRequests(redis, keys);
  return async (
    job: Job<unknown>,
    token: string | undefined,
    signal: AbortSignal,
  ): Promise<unknown> => {
    const data = parseSyncUserJobData(job.data);
    if (data === undefined) {
      throw new UnrecoverableError(
        `invalid sync-user job data: ${JSON.stringify(job.data).slice(0, 200)}`,
      );
    }
    const log = deps.logger.child({ user: data.user, jobId: job.id });
    if (deps.gate.paused) return handBack(job, token, deps.gate.handBackDelayMs);

    const leaseLost = new AbortController();
    const leaseKey = keys.lease(data.user);
    // The lease and the claim of every request merged for this user, in one round trip.
    const { lease, replies } = await UserLease.acquire(
      redis,
      leaseKey,
      deps.leaseTtlMs,
      () => {
        log.error('lost the user lease during a sync; aborting it');
        leaseLost.abort();
      },
      (pipeline, leaseToken) => requests.claim(pipeline, data.user, leaseKey, leaseToken),
    );
    if (lease === undefined) {
      metrics.syncs.inc({ outcome: 'lease-held', exit_code: 'none', type: 'none' });
      log.info('another sync of this user is running; trying again shortly');
      return handBack(job, token, HAND_BACK_DELAY_MS + Math.floor(Math.random() * 1000));
    }
    const request = requests.parseClaim(replies[0], data);
    const plan = {
      ...data,
      requestedAt: request.requestedAt,
      fullSync: request.fullSync || request.changedStreak === FULL_SYNC_AT_CHANGED_STREAK,
    };

    const startedAt = Date.now();
    const requestedType = plan.fullSync ? 'full' : 'incremental';
    metrics.inProgress.inc();
    let released = false;
    try {
      const syncSignal = AbortSignal.any([signal, leaseLost.signal]);
      let outcome = await replicateUser(deps, plan, syncSignal);
      if (request.secondPass) {
        const second = await replicateUser(deps, { ...plan, fullSync: false }, syncSignal);
        outcome = { ...outcome, runs: outcome.runs + second.runs };
      }
      if (
        await repairReplicaFoldersOf(deps, data.user, request.secondPass, outcome, log, syncSignal)
      ) {
        // The changed folders' new dsync state, and a check that their contents match.
        const after = await replicateUser(deps, { ...plan, fullSync: false }, syncSignal);
        outcome = { ...outcome, runs: outcome.runs + after.runs };
      }
      const finishedAt = Date.now();
      const type = outcome.fullSync ? 'full' : 'incremental';
      deps.gate.succeeded();
      metrics.syncs.inc({ outcome: 'success', exit_code: '0', type });
      metrics.syncSeconds.observe({ type }, (finishedAt - startedAt) / 1000);
      metrics.lagSeconds.observe(Math.max(0, finishedAt - plan.requestedAt) / 1000);
      // Bookkeeping, the claim's end and the lease's release in one round trip.
      const bookkeeping = redis
        .pipeline()
        .zrem(keys.failedUsers, data.user)
        .zrem(keys.unknownUsers, data.user)
        .hset(keys.userStatus(data.user), {
          lastSuccessAt: finishedAt,
          ...(outcome.fullSync ? { lastFullSyncAt: finishedAt } : {}),
        });
      requests.settle(bookkeeping, data.user, leaseKey, lease.token);
      released = true;
      await lease.release(bookkeeping);
      await bookkeeping.exec();
      log.info('synced', { type, runs: outcome.runs, ms: finishedAt - startedAt });
      return outcome;
    } catch (error: unknown) {
      // The claimed request stays in Redis: the next sync of this user takes it over again.
      const primary = error instanceof DestinationsFailedError ? error.primary : error;
      const outcome = outcomeOf(primary);
      const exitCode = exitCodeOf(primary);
      const code =
        primary instanceof DoveadmError || primary instanceof SyncKeepsChangingError
          ? primary.code
          : 'ERR_UNEXPECTED';
      const message = error instanceof Error ? error.message : String(error);
      metrics.syncs.inc({
        outcome,
        exit_code: exitCode === undefined ? 'none' : String(exitCode),
        type: requestedType,
      });

      if (outcome === 'aborted' && (deps.stopping() || leaseLost.signal.aborted)) {
        log.info('sync interrupted; handing the job back', {
          reason: leaseLost.signal.aborted ? 'lease lost' : 'shutdown',
        });
        return await handBack(job, token, HAND_BACK_DELAY_MS);
      }
      if (primary instanceof SyncKeepsChangingError) {
        // Progress, not failure: every run moved data. Sync again soon, without using an
        // attempt or marking the user failed, and back off so that it never spins.
        const streak = await requests.countChanged(data.user, leaseKey, lease.token);
        const delayMs = retryDelayMs(streak, {
          retryBaseDelayMs: Math.min(CHANGED_MAX_BASE_DELAY_MS, deps.retryBaseDelayMs),
          retryMaxDelayMs: deps.retryMaxDelayMs,
        });
        log.info('mailboxes kept changing during the sync; syncing again shortly', {
          runs: primary.runs,
          streak,
          delayMs,
        });
        return await handBack(job, token, delayMs);
      }
      const now = Date.now();
      await redis.hset(keys.userStatus(data.user), {
        lastFailureAt: now,
        lastFailureCode: code,
        lastFailureExitCode: exitCode ?? '',
        lastFailureMessage: message.slice(0, 500),
      });
      if (outcome === 'configuration') {
        deps.gate.trip(`${code}${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${message}`);
        return await handBack(job, token, deps.gate.handBackDelayMs);
      }
      // A dsync that fails on storage (exit 65, 68, 76 or an unknown code) has usually met a
      // change on A mid-sync, a mailbox deleted or renamed under it: the next sync passes, so
      // it backs off and retries, as the old replicator did. A lock timeout (exit 75: another
      // dsync of this user still runs on the server) backs off the same way. Only an unknown
      // user, or a request doveadm can never accept (a client bug), fails at once.
      const permanent =
        outcome === 'unknown-user' ||
        (primary instanceof DoveadmError && primary.kind === 'client-bug');
      const lastAttempt = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (outcome === 'unknown-user') await redis.zadd(keys.unknownUsers, now, data.user);
      if (lastAttempt) await redis.zadd(keys.failedUsers, now, data.user);
      if (permanent) {
        log.warn('sync failed permanently', { outcome, code, exitCode, error: message });
        throw new UnrecoverableError(
          `${code}${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${message}`,
        );
      }
      log.warn(
        lastAttempt
          ? 'sync failed; attempts used up, user marked failed'
          : 'sync failed; will retry with backoff',
        {
          outcome,
          code,
          exitCode,
          attempt: job.attemptsMade + 1,
          error: message,
        },
      );
      throw error;
    } finally {
      metrics.inProgress.dec();
      if (!released) await lease.release().catch(() => undefined);
    }
  };
}
