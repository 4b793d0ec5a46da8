import type { Redis } from 'ioredis';
import { type Logger, type StateKeys, SyncPriority, type SyncQueue } from '@dovewarden/shared';

export interface SweepDeps {
  listUsers: () => Promise<string[]>;
  redis: Redis;
  keys: StateKeys;
  syncQueue: SyncQueue;
  thresholdMs: number;
  logger: Logger;
  now?: () => number;
}

export interface SweepResult {
  listed: number;
  queued: number;
}

/** Users asked about per Redis round trip. */
const BATCH = 1000;

/**
 * One background pass: list the users and queue a low-priority sync for each one whose last
 * success is older than the threshold, or who was never synced. Last-success times sit in one
 * sorted set, so a batch of users costs one ZMSCORE, not one round trip each.
 */
export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const now = deps.now ?? Date.now;
  const users = await deps.listUsers();
  const staleBefore = now() - deps.thresholdMs;
  let queued = 0;
  for (let start = 0; start < users.length; start += BATCH) {
    const batch = users.slice(start, start + BATCH);
    const scores = await deps.redis.zmscore(deps.keys.lastSuccess, ...batch);
    const stale = batch.filter((_, index) => {
      const score = scores[index];
      return score === null || score === undefined || Number(score) < staleBefore;
    });
    await deps.syncQueue.enqueueMany(
      stale.map((user) => ({ user, reason: { kind: 'background' as const }, requestedAt: now() })),
      SyncPriority.Low,
    );
    queued += stale.length;
  }
  deps.logger.info('background sweep done', { listed: users.length, queued });
  return { listed: users.length, queued };
}
