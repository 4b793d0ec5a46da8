import type { Redis } from 'ioredis';
import { DoveadmError } from '@dovewarden/doveadm-client';
import type { Logger, StateKeys, SyncUserJobData } from '@dovewarden/shared';

/** The part of the doveadm client a sync needs; tests hand in a fake. */
export interface SyncApi {
  sync(
    user: string,
    options: { destination: string; state: string; fullSync?: boolean; signal?: AbortSignal },
  ): Promise<{ state: string }>;
}

export interface ReplicateDeps {
  doveadm: SyncApi;
  redis: Redis;
  keys: StateKeys;
  destination: string;
  logger: Logger;
  now?: () => number;
  /** How long a stored dsync state lives without a successful sync refreshing it. */
  stateTtlMs?: number;
}

export const DEFAULT_STATE_TTL_MS = 30 * 24 * 3600 * 1000;

/**
 * Exit 2 means "synced, but mailboxes changed meanwhile". Run again at once a few times; a
 * mailbox that is busy settles quickly. One that never settles (the maildir INBOX GUID
 * conflict does this forever) gets one full sync, then the job fails with backoff: a
 * controller must never loop on exit 2.
 */
export const MAX_CHANGED_DURING_SYNC_RETRIES = 3;

export interface ReplicateOutcome {
  fullSync: boolean;
  /** Syncs run for this job, exit 2 re-runs included. */
  runs: number;
  incremental: boolean;
}

export class SyncKeepsChangingError extends Error {
  override readonly name = 'SyncKeepsChangingError';
  readonly code = 'ERR_SYNC_KEEPS_CHANGING';
  readonly exitCode = 2;

  constructor(user: string, runs: number) {
    super(
      `doveadm sync for ${user} returned exit 2 (mailboxes changed during the sync) ${runs} times in a row, the last one a full sync; retrying later`,
    );
  }
}

function isChangedDuringSync(error: unknown): boolean {
  return error instanceof DoveadmError && error.kind === 'changed-during-sync';
}

/**
 * Runs one user's dsync with the stored state and stores the new state. Plain function: the
 * BullMQ processor only validates the job and calls this.
 */
export async function replicateUser(
  deps: ReplicateDeps,
  job: SyncUserJobData,
  signal?: AbortSignal,
): Promise<ReplicateOutcome> {
  const now = deps.now ?? Date.now;
  const stateKey = deps.keys.dsyncState(job.user);
  // Dovecot returns no state unless one is sent, so the first sync sends "".
  const storedState = (await deps.redis.get(stateKey)) ?? '';
  let fullSync = job.fullSync === true;
  let runs = 0;

  for (;;) {
    runs += 1;
    try {
      const result = await deps.doveadm.sync(job.user, {
        destination: deps.destination,
        state: fullSync ? '' : storedState,
        fullSync,
        ...(signal === undefined ? {} : { signal }),
      });
      const finishedAt = now();
      const transaction = deps.redis
        .multi()
        .set(stateKey, result.state, 'PX', deps.stateTtlMs ?? DEFAULT_STATE_TTL_MS)
        .zadd(deps.keys.lastSuccess, finishedAt, job.user);
      if (fullSync) transaction.zadd(deps.keys.lastFullSync, finishedAt, job.user);
      await transaction.exec();
      return { fullSync, runs, incremental: storedState !== '' && !fullSync };
    } catch (error: unknown) {
      if (!isChangedDuringSync(error)) throw error;
      // Dovecot discarded the new state; the old one stays valid for the next run.
      if (runs <= MAX_CHANGED_DURING_SYNC_RETRIES) {
        deps.logger.debug('mailboxes changed during sync; running again', { user: job.user, runs });
        continue;
      }
      if (!fullSync) {
        deps.logger.info('sync keeps returning exit 2; trying one full sync', {
          user: job.user,
          runs,
        });
        fullSync = true;
        continue;
      }
      throw new SyncKeepsChangingError(job.user, runs);
    }
  }
}
