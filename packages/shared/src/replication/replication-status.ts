import type { RedisClient } from '../redis/redis-connection';
import { repliesOf, score } from '../redis/replies';
import { type StateKeys, USER_STATUS_FIELDS as STATUS } from './state-keys';

export interface UserReplicationStatus {
  /** ms since the epoch, or null: never. */
  lastSuccess: number | null;
  lastFullSync: number | null;
  lastFailure: { at: number; code: string; exitCode: number | null; message: string } | null;
  failed: boolean;
  unknownToDoveadm: boolean;
  destinations: {
    destination: string;
    lastSuccess: number | null;
    lastFullSync: number | null;
    hasState: boolean;
  }[];
}

/** One row of `status MASK`: the times are ms since the epoch, null for never. */
export interface UserSummary {
  user: string;
  lastSuccess: number | null;
  lastFailure: number | null;
  lastFullSync: number | null;
  failed: boolean;
}

export interface UserCounts {
  usersKnown: number;
  usersStale: number;
  usersMarkedFailed: number;
}

/** What the sweep needs per user of a batch, in the batch's order. */
export interface SweepTimes {
  lastSuccess: (number | null)[];
  unknownAt: (number | null)[];
  /** Per destination (only when asked for), the last full sync of each user. */
  lastFullSync: (number | null)[][];
}

/**
 * What operators and the background passes ask about users, read only (and the operator's
 * removal of a user): a user's status, pages and scans of known users, summaries and counts.
 * The keys are written by SyncSessions and DestinationLedger; what they mean is said there.
 */
export class ReplicationStatus {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  async userStatus(user: string, destinations: readonly string[]): Promise<UserReplicationStatus> {
    const { keys } = this;
    const pipeline = this.redis
      .pipeline()
      .zscore(keys.lastSuccess, user)
      .hgetall(keys.userStatus(user))
      .zscore(keys.failedUsers, user)
      .zscore(keys.unknownUsers, user);
    for (const destination of destinations) {
      pipeline
        .zscore(keys.lastSuccessAt(destination), user)
        .zscore(keys.lastFullSyncAt(destination), user)
        .exists(keys.dsyncState(destination, user));
    }
    const replies = repliesOf(await pipeline.exec());
    const status = (replies[1] ?? {}) as Record<string, string>;
    const perDestination = destinations.map((destination, index) => {
      const base = 4 + index * 3;
      return {
        destination,
        lastSuccess: score(replies[base]),
        lastFullSync: score(replies[base + 1]),
        hasState: replies[base + 2] === 1,
      };
    });
    const fullSyncs = perDestination
      .map((entry) => entry.lastFullSync)
      .filter((at): at is number => at !== null);
    const failedAt = status[STATUS.lastFailureAt];
    const exitCode = status[STATUS.lastFailureExitCode];
    return {
      lastSuccess: score(replies[0]),
      lastFullSync:
        fullSyncs.length === perDestination.length && fullSyncs.length > 0
          ? Math.min(...fullSyncs)
          : null,
      lastFailure:
        failedAt === undefined
          ? null
          : {
              at: Number(failedAt),
              code: status[STATUS.lastFailureCode] ?? '',
              exitCode: exitCode ? Number(exitCode) : null,
              message: status[STATUS.lastFailureMessage] ?? '',
            },
      failed: replies[2] !== null,
      unknownToDoveadm: replies[3] !== null,
      destinations: perDestination,
    };
  }

  /**
   * A page of the users marked failed (oldest mark first, `at`: when marked), or of the stale
   * ones (longest without a successful sync first, `at`: that last success), with how many
   * there are in all. Users never synced are not listed: they have no mark to go by.
   */
  async listUsers(
    which: 'failed' | 'stale',
    page: { offset: number; limit: number; staleBefore?: number },
  ): Promise<{ users: { user: string; at: number }[]; total: number }> {
    const { keys } = this;
    const before = `(${page.staleBefore ?? 0}`;
    const [rows, total] =
      which === 'failed'
        ? await Promise.all([
            this.redis.zrange(
              keys.failedUsers,
              page.offset,
              page.offset + page.limit - 1,
              'WITHSCORES',
            ),
            this.redis.zcard(keys.failedUsers),
          ])
        : await Promise.all([
            this.redis.zrangebyscore(
              keys.lastSuccess,
              '-inf',
              before,
              'WITHSCORES',
              'LIMIT',
              page.offset,
              page.limit,
            ),
            this.redis.zcount(keys.lastSuccess, '-inf', before),
          ]);
    const users: { user: string; at: number }[] = [];
    for (let i = 0; i + 1 < rows.length; i += 2)
      users.push({ user: rows[i] ?? '', at: Number(rows[i + 1]) });
    return { users, total };
  }

  /**
   * Every known user whose name matches a Redis SCAN pattern, in batches of about `count`: the
   * users with a successful sync, then those marked failed or unknown to doveadm that never had
   * one. ZSCAN steps through the sets, so neither Redis nor the caller ever holds the whole list
   * at once, however many users there are. A user in several sets is yielded from the first
   * only. SCAN may return an element twice while Redis resizes a set; what callers do with a
   * user (queue a sync, remove it, print its row) is harmless done twice.
   */
  async *scanKnownUsers(pattern: string, count = 1000): AsyncGenerator<string[]> {
    const { keys } = this;
    for (const [set, excludeSynced] of [
      [keys.lastSuccess, false],
      [keys.failedUsers, true],
      [keys.unknownUsers, true],
    ] as const) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.zscan(set, cursor, 'MATCH', pattern, 'COUNT', count);
        cursor = next;
        let users = [...new Set(flat.filter((_, i) => i % 2 === 0))];
        if (excludeSynced && users.length > 0) {
          // Already yielded from the first set (or, for the unknown set, from the failed set).
          const pipeline = this.redis.pipeline().zmscore(keys.lastSuccess, ...users);
          if (set === keys.unknownUsers) pipeline.zmscore(keys.failedUsers, ...users);
          const [synced, failed] = repliesOf(await pipeline.exec()) as (string | null)[][];
          users = users.filter((_, i) => synced?.[i] === null && (failed?.[i] ?? null) === null);
        }
        if (users.length > 0) yield users;
      } while (cursor !== '0');
    }
  }

  /**
   * What `doveadm replicator status MASK` showed for each user, read for a batch of users in one
   * round trip: last success, last failure, last full sync to every destination, failed mark.
   */
  async userSummaries(
    users: readonly string[],
    destinations: readonly string[],
  ): Promise<UserSummary[]> {
    if (users.length === 0) return [];
    const { keys } = this;
    const pipeline = this.redis
      .pipeline()
      .zmscore(keys.lastSuccess, ...users)
      .zmscore(keys.failedUsers, ...users);
    for (const destination of destinations)
      pipeline.zmscore(keys.lastFullSyncAt(destination), ...users);
    for (const user of users) pipeline.hget(keys.userStatus(user), STATUS.lastFailureAt);
    const replies = repliesOf(await pipeline.exec());
    const [successes, failed] = replies as (string | null)[][];
    const fullSyncs = replies.slice(2, 2 + destinations.length) as (string | null)[][];
    const failures = replies.slice(2 + destinations.length) as (string | null)[];
    return users.map((user, i) => {
      const perDestination = fullSyncs.map((scores) => score(scores[i]));
      return {
        user,
        lastSuccess: score(successes?.[i]),
        lastFailure: score(failures[i]),
        // Full only when every destination had one: the oldest of them.
        lastFullSync:
          perDestination.length > 0 && perDestination.every((at) => at !== null)
            ? Math.min(...perDestination)
            : null,
        failed: (failed?.[i] ?? null) !== null,
      };
    });
  }

  async userCounts(thresholdMs: number, now: number): Promise<UserCounts> {
    const { keys } = this;
    const [usersKnown, usersStale, usersMarkedFailed] = await Promise.all([
      this.redis.zcard(keys.lastSuccess),
      this.redis.zcount(keys.lastSuccess, '-inf', `(${now - thresholdMs}`),
      this.redis.zcard(keys.failedUsers),
    ]);
    return { usersKnown, usersStale, usersMarkedFailed };
  }

  /** Users marked failed or unknown to doveadm: the worker's failed-users gauge. */
  async failedOrUnknownCount(): Promise<number> {
    const [failed, unknown] = await Promise.all([
      this.redis.zcard(this.keys.failedUsers),
      this.redis.zcard(this.keys.unknownUsers),
    ]);
    return failed + unknown;
  }

  /** The user was synced to every destination at least once (B has a home for it). */
  async wasEverSynced(user: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys.lastSuccess, user)) !== null;
  }

  /** Forgets everything about the user: states, marks, requests. Not its queued job. */
  async removeUser(user: string, destinations: readonly string[]): Promise<void> {
    const { keys } = this;
    const transaction = this.redis
      .multi()
      .zrem(keys.lastSuccess, user)
      .zrem(keys.failedUsers, user)
      .zrem(keys.unknownUsers, user)
      .del(keys.userStatus(user), keys.syncRequest(user), keys.claimedSyncRequest(user));
    for (const destination of destinations) {
      transaction
        .del(...keys.destinationUser(destination, user))
        .zrem(keys.lastSuccessAt(destination), user)
        .zrem(keys.lastFullSyncAt(destination), user);
    }
    await transaction.exec();
  }

  /** Last success, unknown mark and (when asked) last full sync per destination, one round trip. */
  async sweepTimes(
    users: readonly string[],
    fullSyncDestinations: readonly string[],
  ): Promise<SweepTimes> {
    const { keys } = this;
    const pipeline = this.redis
      .pipeline()
      .zmscore(keys.lastSuccess, ...users)
      .zmscore(keys.unknownUsers, ...users);
    for (const destination of fullSyncDestinations)
      pipeline.zmscore(keys.lastFullSyncAt(destination), ...users);
    const [lastSuccess, unknownAt, ...lastFullSync] = repliesOf(await pipeline.exec()).map(
      (reply) => (reply as (string | null)[]).map(score),
    );
    return { lastSuccess: lastSuccess ?? [], unknownAt: unknownAt ?? [], lastFullSync };
  }
}
