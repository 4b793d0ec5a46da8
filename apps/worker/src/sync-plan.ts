import type { ClaimedSyncRequest, DestinationSyncStart, SyncUserJobData } from '@dovewarden/shared';

/** Why a sync to a destination compares everything rather than starting from a stored state. */
export type FullSyncReason =
  /** A request asked for one (an operator, the sweep's full sync by age, a verifier repair). */
  | 'requested'
  /** DOVEWARDEN_FULL_SYNC_INTERVAL has passed since the last one (replication_full_sync_interval). */
  | 'interval'
  /**
   * The stored state may be older than what B holds: an abandoned call, a run whose new state
   * was lost, a crash that may have cost the AOF its last writes (chaos scenarios 9 and 11).
   */
  | 'suspect-state';

export interface DestinationPlan {
  fullSync: boolean;
  /** Why it is full; undefined for an incremental sync from the stored state. */
  reason: FullSyncReason | undefined;
}

/**
 * The policy of one destination's sync, pure: full or incremental, and why. After an exit 2 the
 * run itself goes on from the state dsync printed, or in full when it printed none.
 */
export function planDestination(
  job: Pick<SyncUserJobData, 'fullSync'>,
  start: Pick<DestinationSyncStart, 'lastFullSyncAt' | 'suspect'>,
  now: number,
  fullSyncIntervalMs: number,
): DestinationPlan {
  if (job.fullSync === true) return { fullSync: true, reason: 'requested' };
  if (
    fullSyncIntervalMs > 0 &&
    (start.lastFullSyncAt === null || now - start.lastFullSyncAt >= fullSyncIntervalMs)
  )
    return { fullSync: true, reason: 'interval' };
  if (start.suspect) return { fullSync: true, reason: 'suspect-state' };
  // With no stored state, the incremental call sends none, and dsync compares everything.
  return { fullSync: false, reason: undefined };
}

/**
 * The user's sync, from the job and every request merged for the user: what it covers (the
 * earliest change), whether a request asked for a full sync, and whether a second pass follows
 * (after a RENAME, see SyncUserJobData.secondPass).
 */
export function planSync(
  data: SyncUserJobData,
  request: ClaimedSyncRequest,
): SyncUserJobData & { secondPass: boolean } {
  return {
    ...data,
    requestedAt: request.requestedAt,
    fullSync: request.fullSync,
    secondPass: request.secondPass,
  };
}
