import {
  type Logger,
  type ReplicationState,
  SyncPriority,
  type SyncQueue,
  type SyncUserJobData,
} from '@dovewarden/shared';

export interface SweepDeps {
  listUsers: () => Promise<string[]>;
  state: Pick<
    ReplicationState,
    'acquireSweepLock' | 'releaseSweepLock' | 'outageSince' | 'clearOutage' | 'sweepTimes'
  >;
  syncQueue: Pick<SyncQueue, 'enqueueMany'>;
  thresholdMs: number;
  /** Users whose last full sync to any destination is older get a full sync; 0: never. */
  fullSyncIntervalMs: number;
  destinations: readonly string[];
  /** Names or `*` patterns never replicated (the old `noreplicate`). */
  excludeUsers: readonly string[];
  /** How long a user doveadm did not know (exit 67) is left out. */
  unknownUserRetryMs: number;
  logger: Logger;
  now?: () => number;
}

export interface SweepResult {
  /** Another replica was sweeping; this one did nothing. */
  skipped: boolean;
  listed: number;
  queued: number;
  queuedFull: number;
  excluded: number;
  skippedUnknown: number;
  /** The outage start this sweep caught up from, if any. */
  catchUpSince: number | undefined;
}

/** Users asked about per Redis round trip. */
const BATCH = 1000;
/** Longer than any sweep should take; a crashed sweeper's lock expires by itself. */
const LOCK_TTL_MS = 10 * 60_000;

export function excludeMatcher(patterns: readonly string[]): (user: string) => boolean {
  if (patterns.length === 0) return () => false;
  const exact = new Set(patterns.filter((pattern) => !pattern.includes('*')));
  const globs = patterns
    .filter((pattern) => pattern.includes('*'))
    .map(
      (pattern) =>
        new RegExp(
          `^${pattern
            .split('*')
            .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
          'i',
        ),
    );
  return (user) => exact.has(user) || globs.some((glob) => glob.test(user));
}

/**
 * One background pass: list the users and queue a low-priority sync for each one whose last
 * success is older than the threshold (or than an ingest outage, when one was recorded), or
 * that was never synced, or whose last full sync is too old. Last-success times sit in sorted
 * sets, so a batch of 1,000 users costs one pipelined round trip, and the syncs are queued
 * 1,000 to a bulk add. A lock keeps scheduler replicas from sweeping at the same time; the
 * per-user deduplication keeps a user from being queued twice anyway.
 */
export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const now = deps.now ?? Date.now;
  const { state } = deps;
  const result: SweepResult = {
    skipped: false,
    listed: 0,
    queued: 0,
    queuedFull: 0,
    excluded: 0,
    skippedUnknown: 0,
    catchUpSince: undefined,
  };
  const token = await state.acquireSweepLock(LOCK_TTL_MS);
  if (token === undefined) {
    deps.logger.info('another scheduler is sweeping; skipping this pass');
    return { ...result, skipped: true };
  }
  try {
    const outageText = await state.outageSince();
    const outageSince = outageText === null ? undefined : Number(outageText);
    const users = await deps.listUsers();
    const startedAt = now();
    const staleBefore = Math.max(
      startedAt - deps.thresholdMs,
      outageSince ?? Number.NEGATIVE_INFINITY,
    );
    const fullBefore = startedAt - deps.fullSyncIntervalMs;
    const unknownAfter = startedAt - deps.unknownUserRetryMs;
    const excluded = excludeMatcher(deps.excludeUsers);
    result.listed = users.length;
    result.catchUpSince = outageSince;

    for (let start = 0; start < users.length; start += BATCH) {
      const batch = users.slice(start, start + BATCH).filter((user) => {
        if (!excluded(user)) return true;
        result.excluded += 1;
        return false;
      });
      if (batch.length === 0) continue;
      const times = await state.sweepTimes(
        batch,
        deps.fullSyncIntervalMs > 0 ? deps.destinations : [],
      );
      const items: SyncUserJobData[] = [];
      batch.forEach((user, index) => {
        const unknownAt = times.unknownAt[index];
        if (unknownAt !== null && unknownAt !== undefined && unknownAt > unknownAfter) {
          result.skippedUnknown += 1;
          return;
        }
        const last = times.lastSuccess[index];
        const stale = last === null || last === undefined || last < staleBefore;
        const fullDue =
          deps.fullSyncIntervalMs > 0 &&
          times.lastFullSync.some((scores) => {
            const score = scores[index];
            return score === null || score === undefined || score < fullBefore;
          });
        if (!stale && !fullDue) return;
        items.push({
          user,
          reason: { kind: 'background' },
          requestedAt: startedAt,
          ...(fullDue ? { fullSync: true } : {}),
        });
        if (fullDue) result.queuedFull += 1;
      });
      await deps.syncQueue.enqueueMany(items, SyncPriority.Low);
      result.queued += items.length;
    }
    if (outageText !== null) {
      // Clear the outage only if no newer one was recorded while this sweep ran.
      await state.clearOutage(outageText);
    }
    deps.logger.info('background sweep done', { ...result, ms: now() - startedAt });
    return result;
  } finally {
    await state.releaseSweepLock(token);
  }
}
