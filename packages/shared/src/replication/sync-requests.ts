import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/redis-connection';
import type { SyncPriority, SyncUserJobData } from '../queue/catalogue';
import type { StateKeys } from './state-keys';
import { LuaScript } from '../redis/lua-script';

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

// The merge rule, shared by both scripts: flags are OR-ed, the change time and the priority
// keep their minimum. A field HMGET found missing arrives as false.
const MERGE_FUNCTION = `
local function merge(key, full, second, at, priority)
  if full == '1' then redis.call('HSET', key, 'full', '1') end
  if second == '1' then redis.call('HSET', key, 'secondPass', '1') end
  local storedAt = tonumber(redis.call('HGET', key, 'requestedAt'))
  if at and (storedAt == nil or tonumber(at) < storedAt) then
    redis.call('HSET', key, 'requestedAt', at)
  end
  local storedPriority = tonumber(redis.call('HGET', key, 'priority'))
  if priority and (storedPriority == nil or tonumber(priority) < storedPriority) then
    redis.call('HSET', key, 'priority', priority)
  end
end
`;

/**
 * A delivery waiting for its mail to be on the replica (ingest's POST /sync-wait) leaves a
 * token in the user's request: field `w:<token>`, its value the ms when the waiter gives up, and
 * `waited` = '1' while the hash holds any. The claim carries the tokens over with the rest of
 * the request, so only a sync that started after the delivery (it claimed the token) answers
 * it: on success, the tokens it claimed are published (SYNC_SUCCESS). Tokens whose waiter has
 * given up are dropped on the way, so that a long outage of the replica leaves none behind.
 */
const WAITER_FUNCTIONS = `
local function nowMs()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
-- Drops the given-up tokens of key; returns the live ones, as field, deadline pairs.
local function liveWaiters(key, now)
  local live = {}
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'w:' then
      if tonumber(fields[i + 1]) > now then
        table.insert(live, fields[i])
        table.insert(live, fields[i + 1])
      else
        redis.call('HDEL', key, fields[i])
      end
    end
  end
  if #live == 0 then redis.call('HDEL', key, 'waited') end
  return live
end
`;

/** Tokens one user's request holds before the given-up ones are dropped at the next record. */
const WAITERS_BEFORE_PRUNE = 64;

/**
 * ARGV: full, secondPass, requestedAt, priority, ttl, waiter token ('' for none), the waiter's
 * deadline (ms). Returns the merged request, and the priority stored before this one (which
 * tells whether this request raised it).
 */
const RECORD = new LuaScript(`${MERGE_FUNCTION}${WAITER_FUNCTIONS}
local before = redis.call('HGET', KEYS[1], 'priority')
merge(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if ARGV[6] ~= '' then
  if redis.call('HLEN', KEYS[1]) > ${WAITERS_BEFORE_PRUNE} then liveWaiters(KEYS[1], nowMs()) end
  redis.call('HSET', KEYS[1], 'w:' .. ARGV[6], ARGV[7], 'waited', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local merged = redis.call('HMGET', KEYS[1], 'full', 'secondPass', 'requestedAt', 'priority')
merged[5] = before
return merged`);

/**
 * The claim, as a Lua function for scripts that take the lease themselves: moves the open
 * request into the claimed one (which a failed or killed sync left behind) and returns that.
 */
export const CLAIM_FUNCTION = `${MERGE_FUNCTION}${WAITER_FUNCTIONS}
local function claim(request, claimed, ttl)
  local open = redis.call('HMGET', request, 'full', 'secondPass', 'requestedAt', 'priority', 'waited')
  merge(claimed, open[1], open[2], open[3], open[4])
  if open[5] == '1' or redis.call('HGET', claimed, 'waited') == '1' then
    local now = nowMs()
    local moving = liveWaiters(request, now)
    for i = 1, #moving, 2 do redis.call('HSET', claimed, moving[i], moving[i + 1]) end
    if #liveWaiters(claimed, now) > 0 then redis.call('HSET', claimed, 'waited', '1') end
  end
  redis.call('DEL', request)
  redis.call('PEXPIRE', claimed, ttl)
  return redis.call('HMGET', claimed, 'full', 'secondPass', 'requestedAt', 'priority', 'changedStreak')
end
`;

/** How long a claimed request lives (see REQUEST_TTL_MS), for scripts of other modules. */
export const REQUEST_TTL = String(REQUEST_TTL_MS);

/**
 * KEYS: request, claimed, lease. ARGV: lease token, ttl. Only the lease holder claims.
 * Returns nil without the lease.
 */
const CLAIM = `${CLAIM_FUNCTION}
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return nil end
return claim(KEYS[1], KEYS[2], ARGV[2])`;

/**
 * A sync that succeeded covered what it claimed: the claim ends, and the deliveries waiting on
 * it (their tokens, published space-separated on `channel`) are told that B holds their mail.
 */
export const SETTLE_FUNCTION = `${WAITER_FUNCTIONS}
local function settle(claimed, lease, token, channel)
  if redis.call('GET', lease) ~= token then return end
  if redis.call('HGET', claimed, 'waited') == '1' then
    local live = liveWaiters(claimed, nowMs())
    local tokens = {}
    for i = 1, #live, 2 do table.insert(tokens, string.sub(live[i], 3)) end
    if #tokens > 0 then redis.call('PUBLISH', channel, table.concat(tokens, ' ')) end
  end
  redis.call('DEL', claimed)
end
`;

/** KEYS: claimed, lease. ARGV: lease token. A sync that succeeded covered what it claimed. */
const SETTLE = `if redis.call('GET', KEYS[2]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS: claimed, lease. ARGV: lease token, ttl. Returns the new streak (0 without the lease). */
const COUNT_CHANGED = `if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local streak = redis.call('HINCRBY', KEYS[1], 'changedStreak', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return streak`;

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
   * `waiter`, a delivery waits for the sync that claims this request (see WAITER_FUNCTIONS).
   */
  async record(
    data: SyncUserJobData,
    priority: SyncPriority,
    waiter?: SyncWaiterToken,
  ): Promise<RecordedSyncRequest> {
    const reply = await RECORD.run(this.redis, 1, ...this.#recordArgs(data, priority, waiter));
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
    const pipeline = this.redis.pipeline();
    for (const { data, priority } of items)
      pipeline.eval(RECORD.source, 1, ...this.#recordArgs(data, priority));
    const replies = (await pipeline.exec()) ?? [];
    return items.map(({ data, priority }, index) => {
      const [error, reply] = replies[index] ?? [new Error('no reply from Redis'), null];
      if (error) throw error;
      const merged = this.#parse(reply, data, priority);
      return { data: jobDataOf(data, merged), priority: merged.priority };
    });
  }

  /**
   * Adds the claim to a pipeline that has just taken the user's lease with `leaseToken`
   * (UserLease.acquire), so both cost one round trip; read its reply with parseClaim().
   */
  claim(pipeline: ChainableCommander, user: string, lease: string, leaseToken: string): void {
    pipeline.eval(
      CLAIM,
      3,
      this.keys.syncRequest(user),
      this.keys.claimedSyncRequest(user),
      lease,
      leaseToken,
      String(REQUEST_TTL_MS),
    );
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

  /** After a successful sync, in its bookkeeping pipeline: the claim is done. */
  settle(pipeline: ChainableCommander, user: string, lease: string, leaseToken: string): void {
    pipeline.eval(SETTLE, 2, this.keys.claimedSyncRequest(user), lease, leaseToken);
  }

  /** One more run in a row that ended in exit 2; returns the streak. */
  async countChanged(user: string, lease: string, leaseToken: string): Promise<number> {
    const streak = await this.redis.eval(
      COUNT_CHANGED,
      2,
      this.keys.claimedSyncRequest(user),
      lease,
      leaseToken,
      String(REQUEST_TTL_MS),
    );
    return typeof streak === 'number' ? streak : 0;
  }

  #recordArgs(data: SyncUserJobData, priority: SyncPriority, waiter?: SyncWaiterToken): string[] {
    return [
      this.keys.syncRequest(data.user),
      data.fullSync === true ? '1' : '0',
      data.secondPass === true ? '1' : '0',
      String(data.requestedAt),
      String(priority),
      String(REQUEST_TTL_MS),
      waiter?.token ?? '',
      String(waiter?.deadline ?? 0),
    ];
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
