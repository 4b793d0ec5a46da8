import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { JobHandler, JobName, SyncUserJobData } from '@dovewarden/shared';
import { type SyncUserDeps, syncUser } from './sync-user';

/** Returns the job to the delayed set without using an attempt: nothing was wrong with it. */
async function handBack(
  job: Job<SyncUserJobData>,
  token: string | undefined,
  delayMs: number,
): Promise<never> {
  if (token === undefined) throw new Error('cannot hand back a job without its lock token');
  await job.moveToDelayed(Date.now() + delayMs, token);
  throw new DelayedError();
}

/**
 * The processor of sync-user jobs, thin: the job's data arrives validated (createJobProcessor),
 * syncUser() does the work, and this says its result in BullMQ's terms.
 * - Handed back (configuration problem, lease held, shutdown, exit-2 streak): delayed, no
 *   attempt used.
 * - An unknown user (67) or a request Dovecot refuses: UnrecoverableError, failed at once.
 * - Any other failure: thrown, retried with the capped exponential backoff.
 */
export function createSyncUserProcessor(deps: SyncUserDeps): JobHandler<JobName.SyncUser> {
  return async (job, token, signal) => {
    const log = deps.logger.child({ user: job.data.user, jobId: job.id });
    const attempt = { made: job.attemptsMade, max: job.opts.attempts ?? 1 };
    const result = await syncUser(deps, job.data, attempt, signal, log);
    switch (result.kind) {
      case 'synced':
        return result.outcome;
      case 'hand-back':
        return handBack(job, token, result.delayMs);
      case 'failed':
        if (result.permanent) throw new UnrecoverableError(result.message);
        throw result.error;
    }
  };
}
