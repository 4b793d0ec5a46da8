import type { RedisClient } from '../redis/redis-connection';
import type { SyncPriority, SyncUserJobData } from '../queue/catalogue';
import type { StateKeys } from './state-keys';
import { type LuaCall, LuaScript } from '../redis/lua-script';

/** What a user's next sync must do: every request since the last successful sync, merged. */
export interface MergedSyncRequest {
  fullSync: boolean;
  secondPass: boolean;
  /** The earliest change covered, ms since the epoch. */
  requestedAt: number;
  /** The highest priority asked for (BullMQ's: lower runs first). */
  priority: SyncPriority;
}

/** A request just merged in: the merge, and what it found. */
export interface RecordedSyncRequest extends MergedSyncRequest {
  /**
   * The merge's priority before this request: null when no request was open. A pending job of
   * the user has had it since (see SyncQueue.enqueue).
   */
  priorityBefore: number | null;
}

/** A delivery waiting on the user's next sync: its token, and when it gives up (ms). */
export interface SyncWaiterToken {
  /** Unique, without spaces (tokens are published space-separated). */
  token: string;
  deadline: number;
}

export interface ClaimedSyncRequest extends MergedSyncRequest {
  /** Runs in a row that ended in exit 2 ("mailboxes changed during the sync"). */
  changedStreak: number;
}

/**
 * A request outlives a sync that fails or is killed; a week covers every retry schedule. A
 * full sync by age repairs anything older anyway.
 */
const REQUEST_TTL_MS = 7 * 24 * 3600 * 1000;

/** How long a claimed request lives (see REQUEST_TTL_MS), for the claim's script. */
export const REQUEST_TTL = String(REQUEST_TTL_MS);

const RECORD = LuaScript.fromFile(__dirname, 'lua/record-request-1.lua');
const COUNT_CHANGED = LuaScript.fromFile(__dirname, 'lua/count-changed-2.lua');

/** The job data that carries a merged request: what BullMQ keeps for a follow-up job. */
export function jobDataOf(data: SyncUserJobData, merged: MergedSyncRequest): SyncUserJobData {
  return {
    user: data.user,
    reason: data.reason,
    requestedAt: merged.requestedAt,
    ...(merged.fullSync ? { fullSync: true } : {}),
    ...(merged.secondPass ? { secondPass: true } : {}),
  };
}

function flag(value: unknown): boolean {
  return value === '1';
}

function numberOr(value: unknown, fallback: number): number {
  const parsed = typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(parsed) ? parsed : fallback;
}

/**
 * Merging two requests for one user must never lose what either asked for. BullMQ's
 * deduplication keeps the waiting job's data on a merge, and the follow-up job that
 * keepLastIfActive creates during a running sync gets only the last request's data. So every
 * request is also merged here, in Redis, in one script: a full sync if any asked for one, the
 * highest priority, the earliest change time. The sync that runs takes the merge over (claim)
 * under its lease and drops it only when it succeeds, so a failed or killed sync leaves it for
 * the next one.
 */
export class SyncRequests {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  /**
   * Merges one request in; returns the merge, which the job that carries it should use. With
   * `waiter`, a delivery waits for the sync that claims this request (lua/includes/waiters.lua).
   */
  async record(
    data: SyncUserJobData,
    priority: SyncPriority,
    waiter?: SyncWaiterToken,
  ): Promise<RecordedSyncRequest> {
    const reply = await RECORD.run(this.redis, this.#recordCall(data, priority, waiter));
    const before: unknown = Array.isArray(reply) ? reply[4] : null;
    return {
      ...this.#parse(reply, data, priority),
      priorityBefore: typeof before === 'string' && before !== '' ? Number(before) : null,
    };
  }

  /**
   * record() for many users in one round trip. Returns each request as the job that should
   * carry it: its data and priority replaced by the merge.
   */
  async recordMany(
    items: readonly { data: SyncUserJobData; priority: SyncPriority }[],
  ): Promise<{ data: SyncUserJobData; priority: SyncPriority }[]> {
    if (items.length === 0) return [];
    const replies = await RECORD.runMany(
      this.redis,
      items.map(({ data, priority }) => this.#recordCall(data, priority)),
    );
    return items.map(({ data, priority }, index) => {
      const merged = this.#parse(replies[index], data, priority);
      return { data: jobDataOf(data, merged), priority: merged.priority };
    });
  }

  /** The claimed request, completed with the job's own data (jobs of older versions). */
  parseClaim(reply: unknown, data: SyncUserJobData): ClaimedSyncRequest {
    const fields: unknown[] = Array.isArray(reply) ? reply : [];
    return {
      fullSync: flag(fields[0]) || data.fullSync === true,
      secondPass: flag(fields[1]) || data.secondPass === true,
      requestedAt: Math.min(numberOr(fields[2], data.requestedAt), data.requestedAt),
      priority: numberOr(fields[3], 0),
      changedStreak: numberOr(fields[4], 0),
    };
  }

  /** One more run in a row that ended in exit 2, under the lease; returns the streak. */
  async countChanged(user: string, lease: string, leaseToken: string): Promise<number> {
    const streak = await COUNT_CHANGED.run(this.redis, {
      keys: [this.keys.claimedSyncRequest(user), lease],
      args: [leaseToken, REQUEST_TTL_MS],
    });
    return typeof streak === 'number' ? streak : 0;
  }

  #recordCall(data: SyncUserJobData, priority: SyncPriority, waiter?: SyncWaiterToken): LuaCall {
    return {
      keys: [this.keys.syncRequest(data.user)],
      args: [
        data.fullSync === true ? '1' : '0',
        data.secondPass === true ? '1' : '0',
        data.requestedAt,
        priority,
        REQUEST_TTL_MS,
        waiter?.token ?? '',
        waiter?.deadline ?? 0,
      ],
    };
  }

  #parse(reply: unknown, data: SyncUserJobData, priority: SyncPriority): MergedSyncRequest {
    const fields: unknown[] = Array.isArray(reply) ? reply : [];
    return {
      fullSync: flag(fields[0]),
      secondPass: flag(fields[1]),
      requestedAt: numberOr(fields[2], data.requestedAt),
      priority: numberOr(fields[3], priority),
    };
  }
}
