import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Logger,
  type ReplicationState,
  SyncPriority,
  type SyncQueue,
  type SyncUserJobData,
} from '@dovewarden/shared';
import type { SweepCursor, SweepState } from './sweep-state';

/**
 * What the sweep reads of a listing: an array, or the doveadm client's UserList, which keeps a
 * million names in the answer's bytes and decodes them a batch at a time.
 */
export interface ListedUsers {
  readonly length: number;
  slice(start: number, end: number): string[];
  indexOf(user: string): number;
}

export interface SweepDeps {
  listUsers: () => Promise<ListedUsers>;
  /** Users' last syncs, and the outage to catch up from. */
  state: Pick<ReplicationState, 'outage' | 'status'>;
  /** The sweep's own lock and cursor. */
  sweep: Pick<
    SweepState,
    'acquireLock' | 'renewLock' | 'releaseLock' | 'readCursor' | 'writeCursor' | 'clearCursor'
  >;
  syncQueue: Pick<SyncQueue, 'enqueueMany' | 'pendingCount'>;
  thresholdMs: number;
  /** Users whose last full sync to any destination is older get a full sync; 0: never. */
  fullSyncIntervalMs: number;
  destinations: readonly string[];
  /** Names or `*` patterns never replicated (the old `noreplicate`). */
  excludeUsers: readonly string[];
  /** How long a user doveadm did not know (exit 67) is left out. */
  unknownUserRetryMs: number;
  /**
   * Most syncs waiting in the queue at once: the sweep tops the queue up to this as the workers
   * drain it, instead of queuing every stale user at once. Infinity: no pacing.
   */
  maxPending: number;
  /** How often a paced sweep looks whether the workers made room. Default 20 ms. */
  pollMs?: number;
  /** The sweep lock's life; renewed every quarter of it while the sweep runs. Default 60 s. */
  lockTtlMs?: number;
  /** Told after every batch, and while the sweep waits for room. */
  onProgress?: (progress: SweepProgress) => void | Promise<void>;
  /** Stops the sweep between batches (shutdown); its cursor stays for the next one. */
  signal?: AbortSignal;
  logger: Logger;
  now?: () => number;
}

export interface SweepProgress {
  listed: number;
  /** Users passed so far (queued, skipped or fresh). */
  passed: number;
  queued: number;
  remaining: number;
}

export interface SweepResult {
  /** Another replica was sweeping; this one did nothing. */
  skipped: boolean;
  /** Stopped before the end (shutdown, or the lock was lost); the cursor stays. */
  interrupted: boolean;
  /** Went on from the cursor of a sweep cut short. */
  resumed: boolean;
  listed: number;
  queued: number;
  queuedFull: number;
  excluded: number;
  skippedUnknown: number;
  /** The outage start this sweep caught up from, if any. */
  catchUpSince: number | undefined;
}

/**
 * Users looked at per Redis round trip: 1,000, or fewer when paced (a few times the queue's
 * bound), so that a batch's names and jobs live for a fraction of a second, not the seconds
 * the workers take to drain 1,000 users, and die young instead of piling up in the old heap.
 */
function batchSize(maxPending: number): number {
  return Math.min(1000, Math.max(100, 4 * maxPending));
}
/** A crashed sweeper's lock expires by itself after this; a live one renews it. */
export const SWEEP_LOCK_TTL_MS = 60_000;
/** A cursor outlives a scheduler restart, not a week of downtime. */
const CURSOR_TTL_MS = 24 * 3600_000;

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

/** Where to go on in `users`: after the cursor's last user, wherever the new listing has it. */
function resumePosition(users: ListedUsers, cursor: SweepCursor): number {
  if (cursor.position === 0 || cursor.lastUser === '') return 0;
  if (users.slice(cursor.position - 1, cursor.position)[0] === cursor.lastUser)
    return cursor.position;
  const found = users.indexOf(cursor.lastUser);
  return found >= 0 ? found + 1 : Math.min(cursor.position, users.length);
}

/** Aborts the sweep when its lock cannot be renewed: another replica may sweep now. */
function keepLock(deps: SweepDeps, token: string, lost: AbortController): { stop: () => void } {
  const ttlMs = deps.lockTtlMs ?? SWEEP_LOCK_TTL_MS;
  const timer = setInterval(() => {
    deps.sweep.renewLock(token, ttlMs).then(
      (held) => {
        if (held) return;
        deps.logger.warn('lost the sweep lock; stopping this sweep');
        lost.abort();
      },
      // A failed renewal is retried on the next tick; the TTL covers several missed ones.
      () => undefined,
    );
  }, ttlMs / 4);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Queues `items` as the workers make room: never more than maxPending syncs waiting at once,
 * so that a sweep of a million users holds a few hundred jobs in Redis, not a million, and a
 * live event's job never waits behind the whole backlog. Returns false when stopped.
 */
async function feed(
  deps: SweepDeps,
  items: SyncUserJobData[],
  signal: AbortSignal,
  waiting: () => void | Promise<void>,
): Promise<boolean> {
  const pollMs = deps.pollMs ?? 20;
  // Top up in slices of at least a quarter of the bound: fewer, larger bulk adds.
  const slice = Math.max(1, Math.ceil(deps.maxPending / 4));
  let next = 0;
  while (next < items.length) {
    if (signal.aborted) return false;
    const room =
      deps.maxPending === Number.POSITIVE_INFINITY
        ? items.length
        : deps.maxPending - (await deps.syncQueue.pendingCount());
    if (room < Math.min(slice, items.length - next)) {
      await waiting();
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
      continue;
    }
    const part = items.slice(next, next + room);
    await deps.syncQueue.enqueueMany(part, SyncPriority.Low);
    next += part.length;
  }
  return true;
}

/**
 * One background pass: list the users and queue a low-priority sync for each one whose last
 * success is older than the threshold (or than an ingest outage, when one was recorded), or
 * that was never synced, or whose last full sync is too old. Last-success times sit in sorted
 * sets, so a batch of 1,000 users costs one pipelined round trip. The syncs enter the queue
 * at the pace the workers drain it (maxPending), and the sweep's place is stored after every
 * batch: a restarted scheduler goes on from there. A renewed lock keeps scheduler replicas
 * from sweeping at the same time; the per-user deduplication keeps a user from being queued
 * twice anyway.
 */
export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const now = deps.now ?? Date.now;
  const { state } = deps;
  const result: SweepResult = {
    skipped: false,
    interrupted: false,
    resumed: false,
    listed: 0,
    queued: 0,
    queuedFull: 0,
    excluded: 0,
    skippedUnknown: 0,
    catchUpSince: undefined,
  };
  const token = await deps.sweep.acquireLock(deps.lockTtlMs ?? SWEEP_LOCK_TTL_MS);
  if (token === undefined) {
    deps.logger.info('another scheduler is sweeping; skipping this pass');
    return { ...result, skipped: true };
  }
  const lockLost = new AbortController();
  const lock = keepLock(deps, token, lockLost);
  const signal =
    deps.signal === undefined ? lockLost.signal : AbortSignal.any([deps.signal, lockLost.signal]);
  const began = now();
  try {
    const users = await deps.listUsers();
    const stored = await deps.sweep.readCursor();
    let cursor: SweepCursor;
    if (stored === undefined) {
      const outageText = await state.outage.since();
      const outageSince = outageText === null ? undefined : Number(outageText);
      const startedAt = now();
      cursor = {
        startedAt,
        staleBefore: Math.max(
          startedAt - deps.thresholdMs,
          outageSince ?? Number.NEGATIVE_INFINITY,
        ),
        fullBefore: startedAt - deps.fullSyncIntervalMs,
        outage: outageText ?? '',
        position: 0,
        lastUser: '',
        queued: 0,
        queuedFull: 0,
      };
    } else {
      // A sweep cut short (restart, lost lock): same bounds, from where it was.
      cursor = { ...stored, position: resumePosition(users, stored) };
      result.resumed = true;
      deps.logger.info('going on with a sweep cut short', {
        startedAt: new Date(stored.startedAt).toISOString(),
        position: cursor.position,
      });
    }
    const unknownAfter = cursor.startedAt - deps.unknownUserRetryMs;
    const excluded = excludeMatcher(deps.excludeUsers);
    result.listed = users.length;
    result.catchUpSince = cursor.outage === '' ? undefined : Number(cursor.outage);
    result.queued = cursor.queued;
    result.queuedFull = cursor.queuedFull;
    const progress = (): void | Promise<void> =>
      deps.onProgress?.({
        listed: users.length,
        passed: cursor.position,
        queued: result.queued,
        remaining: users.length - cursor.position,
      });

    while (cursor.position < users.length) {
      const end = Math.min(users.length, cursor.position + batchSize(deps.maxPending));
      const batchNames = users.slice(cursor.position, end);
      const batch = batchNames.filter((user) => {
        if (!excluded(user)) return true;
        result.excluded += 1;
        return false;
      });
      const items: SyncUserJobData[] = [];
      let full = 0;
      if (batch.length > 0) {
        const times = await state.status.sweepTimes(
          batch,
          deps.fullSyncIntervalMs > 0 ? deps.destinations : [],
        );
        batch.forEach((user, index) => {
          const unknownAt = times.unknownAt[index];
          if (unknownAt !== null && unknownAt !== undefined && unknownAt > unknownAfter) {
            result.skippedUnknown += 1;
            return;
          }
          const last = times.lastSuccess[index];
          const stale = last === null || last === undefined || last < cursor.staleBefore;
          const fullDue =
            deps.fullSyncIntervalMs > 0 &&
            times.lastFullSync.some((scores) => {
              const score = scores[index];
              return score === null || score === undefined || score < cursor.fullBefore;
            });
          if (!stale && !fullDue) return;
          items.push({
            user,
            reason: { kind: 'background' },
            requestedAt: cursor.startedAt,
            ...(fullDue ? { fullSync: true } : {}),
          });
          if (fullDue) full += 1;
        });
      }
      if (!(await feed(deps, items, signal, progress))) break;
      result.queued += items.length;
      result.queuedFull += full;
      cursor = {
        ...cursor,
        position: end,
        lastUser: batchNames[batchNames.length - 1] ?? '',
        queued: result.queued,
        queuedFull: result.queuedFull,
      };
      await deps.sweep.writeCursor(cursor, CURSOR_TTL_MS);
      await progress();
    }
    if (cursor.position < users.length) {
      result.interrupted = true;
      deps.logger.info('background sweep stopped; the next one goes on from here', {
        position: cursor.position,
        listed: users.length,
      });
      return result;
    }
    await deps.sweep.clearCursor();
    if (cursor.outage !== '') {
      // Clear the outage only if no newer one was recorded while this sweep ran.
      await state.outage.clear(cursor.outage);
    }
    deps.logger.info('background sweep done', { ...result, ms: now() - began });
    return result;
  } finally {
    lock.stop();
    await deps.sweep.releaseLock(token);
  }
}
