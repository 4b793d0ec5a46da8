import {
  DEFAULT_STATE_TTL_MS,
  type Logger,
  SyncPriority,
  type SyncUserJobData,
  type UserLease,
} from '@dovewarden/shared';
import type { ConfigurationGate } from './configuration-gate';
import { planSync } from './sync-plan';
import {
  type ReplicateDeps,
  type ReplicateOutcome,
  SyncKeepsChangingError,
  replicateUser,
} from './replicate-user';
import { retryDelayMs } from './backoff';
import { SyncRecord } from './sync-record';
import {
  type ReplicaFolderRepairDeps,
  repairReplicaFoldersAfterSync,
} from './replica-folder-repair';
import { type SyncFailureKind, classifySyncFailure, describeSyncFailure } from './sync-failure';
import type { WorkerMetrics } from './worker-metrics';

export interface SyncUserDeps extends ReplicateDeps {
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

/** Which attempt of its job this sync is (BullMQ counts them). */
export interface SyncAttempt {
  /** Attempts made before this one. */
  made: number;
  max: number;
}

/** What the job should do next; the processor says it in BullMQ's terms. */
export type SyncUserResult =
  | { kind: 'synced'; outcome: ReplicateOutcome }
  /** Nothing was wrong with the job: run it again after the delay, without using an attempt. */
  | { kind: 'hand-back'; delayMs: number }
  /** Retried with backoff while attempts last; a permanent one fails the job at once. */
  | { kind: 'failed'; error: unknown; permanent: boolean; message: string };

/**
 * A user whose runs keep ending in exit 2 is synced again after at most 1 s (sooner when
 * failures retry sooner), doubling up to the retry cap: every run moves data, so this is
 * progress, not failure, but it must not spin.
 */
const CHANGED_MAX_BASE_DELAY_MS = 1000;

/** Delay before a job handed back (shutdown, lease held) is picked up again. */
const HAND_BACK_DELAY_MS = 1000;

/**
 * After a sync that followed a rename, a full sync, or one that saw the source delete
 * mailboxes: finishes on each replica what dsync -1 left undone. True when it changed anything.
 */
async function repairReplicaFolders(
  deps: SyncUserDeps,
  user: string,
  renamed: boolean,
  outcome: ReplicateOutcome,
  record: SyncRecord,
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
    record.settle(replica.destination, result.settled);
    changed ||= result.renamed.length + result.deleted.length > 0;
  }
  return changed;
}

/**
 * The runs the plan needs: the sync, a second pass after a RENAME, and a folder repair. Each
 * run after the first starts from what the one before left in `record`, in memory: nothing is
 * stored until the sync as a whole has ended.
 */
async function runSyncs(
  deps: SyncUserDeps,
  plan: SyncUserJobData,
  secondPass: boolean,
  record: SyncRecord,
  log: Logger,
  signal: AbortSignal,
): Promise<ReplicateOutcome> {
  let outcome = await replicateUser(deps, plan, record, signal);
  if (secondPass) {
    const second = await replicateUser(deps, { ...plan, fullSync: false }, record, signal);
    outcome = { ...outcome, runs: outcome.runs + second.runs };
  }
  const repairs =
    deps.replicaFolders.length > 0 &&
    (secondPass ||
      outcome.fullSync ||
      outcome.destinations.some((d) => d.departedMailboxes.length > 0));
  if (
    repairs &&
    (await repairReplicaFolders(deps, plan.user, secondPass, outcome, record, log, signal))
  ) {
    // The changed folders' new dsync state, and a check that their contents match.
    const after = await replicateUser(deps, { ...plan, fullSync: false }, record, signal);
    outcome = { ...outcome, runs: outcome.runs + after.runs };
  }
  return outcome;
}

/** What a failed sync leads to: a hand-back, a retry with backoff, or a permanent failure. */
async function settleFailure(
  deps: SyncUserDeps,
  user: string,
  lease: UserLease,
  failure: SyncFailureKind,
  attempt: SyncAttempt,
  aborted: { leaseLost: boolean },
  log: Logger,
): Promise<SyncUserResult> {
  if (failure.outcome === 'aborted' && (deps.stopping() || aborted.leaseLost)) {
    log.info('sync interrupted; handing the job back', {
      reason: aborted.leaseLost ? 'lease lost' : 'shutdown',
    });
    return { kind: 'hand-back', delayMs: HAND_BACK_DELAY_MS };
  }
  if (failure.primary instanceof SyncKeepsChangingError) {
    // Progress, not failure: every run moved data. Sync again soon, without using an
    // attempt or marking the user failed, and back off so that it never spins.
    const streak = await deps.state.sessions.countChangedRun(user, lease);
    const delayMs = retryDelayMs(streak, {
      retryBaseDelayMs: Math.min(CHANGED_MAX_BASE_DELAY_MS, deps.retryBaseDelayMs),
      retryMaxDelayMs: deps.retryMaxDelayMs,
    });
    log.info('mailboxes kept changing during the sync; syncing again shortly', {
      runs: failure.primary.runs,
      streak,
      delayMs,
    });
    return { kind: 'hand-back', delayMs };
  }
  const configuration = failure.outcome === 'configuration';
  const lastAttempt = failure.permanent || attempt.made + 1 >= attempt.max;
  await deps.state.sessions.recordFailed(user, {
    at: Date.now(),
    code: failure.code,
    exitCode: failure.exitCode,
    message: failure.message,
    unknownUser: failure.outcome === 'unknown-user',
    // A configuration problem uses no attempt: the job is handed back below.
    givenUp: lastAttempt && !configuration,
  });
  if (configuration) {
    deps.gate.trip(describeSyncFailure(failure));
    return { kind: 'hand-back', delayMs: deps.gate.handBackDelayMs };
  }
  const { outcome, code, exitCode, message: error } = failure;
  if (failure.permanent) {
    log.warn('sync failed permanently', { outcome, code, exitCode, error });
    return {
      kind: 'failed',
      error: failure.error,
      permanent: true,
      message: describeSyncFailure(failure),
    };
  }
  log.warn(
    lastAttempt
      ? 'sync failed; attempts used up, user marked failed'
      : 'sync failed; will retry with backoff',
    { outcome, code, exitCode, attempt: attempt.made + 1, error },
  );
  return { kind: 'failed', error: failure.error, permanent: false, message: failure.message };
}

/**
 * The use case "sync this user", in named steps: take the user's lease with every request
 * merged for it (claim), plan the sync (policy), run it (sync, second pass, folder repair),
 * then record the outcome (bookkeeping) or decide what a failure leads to. The BullMQ
 * processor (sync-user-processor) only validates the job and says the result in BullMQ's terms.
 */
export async function syncUser(
  deps: SyncUserDeps,
  data: SyncUserJobData,
  attempt: SyncAttempt,
  signal: AbortSignal,
  log: Logger,
): Promise<SyncUserResult> {
  const { metrics, state } = deps;
  if (deps.gate.paused) return { kind: 'hand-back', delayMs: deps.gate.handBackDelayMs };

  const leaseLost = new AbortController();
  const firstDestination = deps.destinations[0];
  // The first destination's stored state comes with the claim: one round trip less.
  const { lease, request, start } = await state.sessions.claim(
    data,
    deps.leaseTtlMs,
    () => {
      log.error('lost the user lease during a sync; aborting it');
      leaseLost.abort();
    },
    firstDestination === undefined
      ? undefined
      : {
          destination: firstDestination,
          now: (deps.now ?? Date.now)(),
          stateTtlMs: deps.stateTtlMs ?? DEFAULT_STATE_TTL_MS,
        },
  );
  if (lease === undefined) {
    metrics.syncs.inc({ outcome: 'lease-held', exit_code: 'none', type: 'none' });
    log.info('another sync of this user is running; trying again shortly');
    return { kind: 'hand-back', delayMs: HAND_BACK_DELAY_MS + Math.floor(Math.random() * 1000) };
  }
  const plan = planSync(data, request);
  const record = new SyncRecord(data.user);
  if (firstDestination !== undefined && start !== undefined) record.began(firstDestination, start);
  const startedAt = Date.now();
  metrics.inProgress.inc();
  let released = false;
  try {
    const outcome = await runSyncs(
      deps,
      plan,
      plan.secondPass,
      record,
      log,
      AbortSignal.any([signal, leaseLost.signal]),
    );
    const finishedAt = Date.now();
    const type = outcome.fullSync ? 'full' : 'incremental';
    deps.gate.succeeded();
    metrics.syncs.inc({ outcome: 'success', exit_code: '0', type });
    metrics.syncSeconds.observe({ type }, (finishedAt - startedAt) / 1000);
    // Live: a change or an operator asked for it (the merge's priority above background's);
    // the lag SLO is about those, not the sweep's background syncs of idle users.
    metrics.lagSeconds.observe(
      { source: Number(request.priority) < Number(SyncPriority.Low) ? 'live' : 'background' },
      Math.max(0, finishedAt - plan.requestedAt) / 1000,
    );
    // The record of a success: the new dsync states, the marks, the claim's end and the
    // lease's release, in one round trip.
    released = true;
    await record.storeSuccess(state, { finishedAt, fullSync: outcome.fullSync }, lease);
    log.info('synced', { type, runs: outcome.runs, ms: finishedAt - startedAt });
    return { kind: 'synced', outcome };
  } catch (error: unknown) {
    // The record of a failure: what the runs did to each destination. The claimed request
    // stays in Redis: the next sync of this user takes it over again.
    await record.storeFailure(state, log);
    const failure = classifySyncFailure(error);
    metrics.syncs.inc({
      outcome: failure.outcome,
      exit_code: failure.exitCode === undefined ? 'none' : String(failure.exitCode),
      type: plan.fullSync ? 'full' : 'incremental',
    });
    return await settleFailure(
      deps,
      data.user,
      lease,
      failure,
      attempt,
      { leaseLost: leaseLost.signal.aborted },
      log,
    );
  } finally {
    metrics.inProgress.dec();
    if (!released) await lease.release().catch(() => undefined);
  }
}
