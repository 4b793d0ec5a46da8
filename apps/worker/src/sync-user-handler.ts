import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { DoveadmError } from '@dovewarden/doveadm-client';
import { type Logger, parseSyncUserJobData } from '@dovewarden/shared';
import { type ReplicateDeps, SyncKeepsChangingError, replicateUser } from './replicate-user';
import type { SyncResult, WorkerMetrics } from './worker-metrics';

export interface SyncUserHandlerDeps extends ReplicateDeps {
  metrics: WorkerMetrics;
  logger: Logger;
  /** True once the worker is stopping: an aborted sync is handed back, not failed. */
  stopping: () => boolean;
}

/** Delay before a sync handed back at shutdown is picked up by another worker. */
const HAND_BACK_DELAY_MS = 1000;

function resultOf(error: unknown): SyncResult {
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

/**
 * The processor of sync-user jobs: validate the data, call replicateUser(), and translate
 * failures into BullMQ's terms. Permanent ones (unknown user, a request Dovecot refuses) are
 * UnrecoverableError, so they fail at once instead of burning every attempt.
 */
export function createSyncUserHandler(deps: SyncUserHandlerDeps) {
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
    const startedAt = Date.now();
    try {
      const outcome = await replicateUser(deps, data, signal);
      const type = outcome.fullSync ? 'full' : 'incremental';
      deps.metrics.syncs.inc({ result: 'success', type });
      deps.metrics.syncSeconds.observe({ type }, (Date.now() - startedAt) / 1000);
      deps.metrics.replicationDelaySeconds.observe(
        Math.max(0, Date.now() - data.requestedAt) / 1000,
      );
      log.info('synced', { type, runs: outcome.runs, ms: Date.now() - startedAt });
      return outcome;
    } catch (error: unknown) {
      const result = resultOf(error);
      deps.metrics.syncs.inc({ result, type: data.fullSync === true ? 'full' : 'incremental' });
      if (result === 'aborted' && deps.stopping() && token !== undefined) {
        log.info('sync interrupted by shutdown; handing the job back');
        await job.moveToDelayed(Date.now() + HAND_BACK_DELAY_MS, token);
        throw new DelayedError();
      }
      const code = error instanceof DoveadmError ? error.code : undefined;
      const exitCode = error instanceof DoveadmError ? error.exitCode : undefined;
      const message = error instanceof Error ? error.message : String(error);
      if (result === 'unknown-user' || result === 'permanent') {
        log.warn('sync failed permanently', { result, code, exitCode, error: message });
        throw new UnrecoverableError(
          `${code ?? 'error'}${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${message}`,
        );
      }
      log.warn('sync failed; will retry with backoff', { result, code, exitCode, error: message });
      throw error;
    }
  };
}
