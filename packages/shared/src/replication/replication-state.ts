import { randomUUID } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/redis-connection';
import { SyncWaitLedger } from '../ingest/sync-wait-ledger';
import { ReplicaServiceLedger } from './replica-service-ledger';
import { VerificationLedger } from '../verification/verification-ledger';
import { COMPARE_AND_DELETE, COMPARE_AND_EXPIRE } from '../redis/compare-and-delete';
import { LuaScript } from '../redis/lua-script';
import type { SyncUserJobData } from '../queue/catalogue';
import { StateKeys } from './state-keys';
import {
  CLAIM_FUNCTION,
  type ClaimedSyncRequest,
  REQUEST_TTL,
  SETTLE_FUNCTION,
  SyncRequests,
} from './sync-requests';
import { UserLease } from './user-lease';

/** Refused and retried event hashes outlive an ingest restart, not a day. */
const REFUSAL_TTL_MS = 3600_000;

/** How long a stored dsync state lives without a successful sync refreshing it (default). */
export const DEFAULT_STATE_TTL_MS = 30 * 24 * 3600 * 1000;

// Keep the earliest outage start: two ingest replicas may report overlapping outages.
const RECORD_OUTAGE = `local current = redis.call('GET', KEYS[1])
if current == false or tonumber(current) > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/**
 * KEYS: refused, retried, outage-since. ARGV: refused before (ms). Refusals older than that were
 * either retried (queued later: in `retried`) or lost; the earliest lost one becomes the
 * outage's start, kept if an earlier one is recorded. Returns it, or false.
 */
const SETTLE_REFUSALS = `local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES')
local lost = false
for i = 1, #due, 2 do
  if redis.call('SISMEMBER', KEYS[2], due[i]) == 0 then
    local at = tonumber(due[i + 1])
    if lost == false or at < lost then lost = at end
  end
  redis.call('ZREM', KEYS[1], due[i])
end
if lost ~= false then
  local current = redis.call('GET', KEYS[3])
  if current == false or tonumber(current) > lost then redis.call('SET', KEYS[3], string.format('%.0f', lost)) end
  return string.format('%.0f', lost)
end
return false`;

/** The fields of a user's status hash: what operators ask about beyond the sorted sets. */
const STATUS = {
  lastSuccessAt: 'lastSuccessAt',
  lastFullSyncAt: 'lastFullSyncAt',
  lastFailureAt: 'lastFailureAt',
  lastFailureCode: 'lastFailureCode',
  lastFailureExitCode: 'lastFailureExitCode',
  lastFailureMessage: 'lastFailureMessage',
} as const;

/**
 * What a sync to one destination starts from, and its in-flight mark (startDestinationSync):
 * dsync state, last full sync, last success, states suspect before, in-flight mark (set to
 * `now`, the one it replaced returned), departed mailboxes, source mailboxes at failure.
 */
const START_FUNCTION = `
local function start(state, full, success, suspect, inFlight, departed, atFailure, user, now, ttl)
  return {
    redis.call('GET', state),
    redis.call('ZSCORE', full, user),
    redis.call('ZSCORE', success, user),
    redis.call('GET', suspect),
    redis.call('SET', inFlight, now, 'PX', ttl, 'GET'),
    redis.call('ZRANGE', departed, 0, -1),
    redis.call('SMEMBERS', atFailure) }
end
`;

/** KEYS: START_FUNCTION's seven keys. ARGV: user, now, state ttl. */
const START = new LuaScript(`${START_FUNCTION}
return start(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1], ARGV[2], ARGV[3])`);

/**
 * A worker's claim in one command: takes the user's lease, claims its merged requests and, when
 * ARGV[7] is '1', reads what the sync to the first destination starts from and marks that call
 * in flight (startDestinationSync). One command instead of a pipeline of ten: on a small VM
 * every command and every round trip costs the controller more CPU than the work in Redis.
 * KEYS: lease, request, claimed, dsync state, last full sync (destination), last success
 * (destination), states suspect before, in-flight mark, departed mailboxes, source mailboxes at
 * failure. ARGV: token, lease ttl, request ttl, user, now, state ttl, '1' to start.
 * Returns false without the lease, else { claim, [start replies] }.
 */
const CLAIM_AND_START = new LuaScript(`${CLAIM_FUNCTION}${START_FUNCTION}
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
local claimed = claim(KEYS[2], KEYS[3], ARGV[3])
if ARGV[7] ~= '1' then return { claimed } end
local reply = start(KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], ARGV[4], ARGV[5], ARGV[6])
table.insert(reply, 1, claimed)
return reply`);

/** Keys per destination write of SYNC_SUCCESS, and its fixed keys. */
const SUCCESS_KEYS_PER_DESTINATION = 6;
const SUCCESS_FIXED_KEYS = 6;

/**
 * A user's successful sync in one command: the destination states held back (see
 * recordUserSynced), the success marks, the claim's end and the lease's release.
 * KEYS: last success, failed users, unknown users, user status, claimed request, lease, then
 * per destination: dsync state, in-flight mark, source mailboxes at failure, last success
 * (destination), last full sync (destination), departed mailboxes.
 * ARGV: user, finishedAt, full ('1'/'0'), lease token ('' for none), the channel that tells
 * waiting deliveries (see SETTLE_FUNCTION), destination count, then per destination: state,
 * state ttl, finishedAt, full, departed count, departed GUIDs...
 */
const SYNC_SUCCESS = new LuaScript(`${SETTLE_FUNCTION}
local user = ARGV[1]
local at = 7
for d = 0, tonumber(ARGV[6]) - 1 do
  local k = ${SUCCESS_FIXED_KEYS} + d * ${SUCCESS_KEYS_PER_DESTINATION}
  local state, ttl, finished, full, departed = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4])
  at = at + 5
  redis.call('SET', KEYS[k + 1], state, 'PX', ttl)
  redis.call('DEL', KEYS[k + 2], KEYS[k + 3])
  redis.call('ZADD', KEYS[k + 4], finished, user)
  if full == '1' then redis.call('ZADD', KEYS[k + 5], finished, user) end
  if departed > 0 then
    for i = 0, departed - 1 do redis.call('ZADD', KEYS[k + 6], finished, ARGV[at + i]) end
    redis.call('PEXPIRE', KEYS[k + 6], ttl)
    at = at + departed
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], user)
redis.call('ZREM', KEYS[2], user)
redis.call('ZREM', KEYS[3], user)
redis.call('HSET', KEYS[4], '${STATUS.lastSuccessAt}', ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', KEYS[4], '${STATUS.lastFullSyncAt}', ARGV[2]) end
if ARGV[4] ~= '' then
  settle(KEYS[5], KEYS[6], ARGV[4], ARGV[5])
  if redis.call('GET', KEYS[6]) == ARGV[4] then redis.call('DEL', KEYS[6]) end
end
return 1`);

/** What a sync to one destination starts from. */
export interface DestinationSyncStart {
  /** The dsync state that makes the sync incremental; null: none stored. */
  storedState: string | null;
  lastFullSyncAt: number | null;
  lastSuccessAt: number | null;
  /**
   * The stored state may be older than what the destination holds: the last call was abandoned
   * (its dsync may have gone on without us), its run changed the destination but its new state
   * never came back (a failure, exit 2), or the state predates a crash that may have cost the
   * AOF its last writes. A full sync compares everything instead.
   */
  suspect: boolean;
  /** Mailboxes the source deleted that the destination may still hold (folder repair). */
  departedBefore: string[];
  /**
   * The source's mailboxes when an earlier sync to this destination failed: a failed run may
   * have made them on the destination without any stored state knowing them.
   */
  sourceAtFailure: string[];
}

/** A sync to one destination that doveadm answered with success. */
export interface DestinationSynced {
  state: string;
  fullSync: boolean;
  /** GUIDs of mailboxes that left the dsync state with this sync. */
  departed: readonly string[];
  finishedAt: number;
}

/** One destination's successful sync, to be stored (see recordUserSynced). */
export interface DestinationSyncedWrite {
  destination: string;
  user: string;
  synced: DestinationSynced;
  stateTtlMs: number;
}

/** A failed sync, as operators see it in `status` and the admin API. */
export interface SyncFailure {
  at: number;
  code: string;
  exitCode: number | undefined;
  message: string;
  /** doveadm did not know the user (exit 67): background passes skip it for a while. */
  unknownUser: boolean;
  /** Attempts used up, or a permanent failure: the user is marked failed. */
  givenUp: boolean;
}

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

/** Where a sweep is; stored after every batch, so that a restarted scheduler goes on from it. */
export interface SweepCursor {
  /** When the sweep began (ms): its stale and full-sync bounds follow from it. */
  startedAt: number;
  /** Users whose last success is older than this are stale. */
  staleBefore: number;
  /** Users whose last full sync to a destination is older than this are due one. */
  fullBefore: number;
  /** The recorded outage this sweep catches up from, as stored; '' when none. */
  outage: string;
  /** Users of the listing passed so far. */
  position: number;
  /** The last user passed ('' at the start): finds the place again in a new listing. */
  lastUser: string;
  /** Users queued so far. */
  queued: number;
  queuedFull: number;
}

const CURSOR_FIELDS = [
  'startedAt',
  'staleBefore',
  'fullBefore',
  'outage',
  'position',
  'lastUser',
  'queued',
  'queuedFull',
] as const satisfies readonly (keyof SweepCursor)[];

/** What the sweep needs per user of a batch, in the batch's order. */
export interface SweepTimes {
  lastSuccess: (number | null)[];
  unknownAt: (number | null)[];
  /** Per destination (only when asked for), the last full sync of each user. */
  lastFullSync: (number | null)[][];
}

function score(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function repliesOf(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/**
 * The one owner of a user's replication state in Redis: what makes the next sync incremental,
 * whether the last call was abandoned, what the user's sync requests merged to, its lease,
 * success and failure marks, and the global marks (outage, suspect states, sweep lock) that
 * decide when users count as stale. Every per-user key is read and written here and nowhere
 * else, so what "a user is in sync" means is in this file.
 */
export class ReplicationState {
  readonly keys: StateKeys;
  readonly requests: SyncRequests;
  /** Users the replica served; `backup` leaves them alone until failback. */
  readonly replicaService: ReplicaServiceLedger;
  /** The background verifier's walk and the users it knows to differ. */
  readonly verification: VerificationLedger;
  /** How ingest answered deliveries that waited for the replica (POST /sync-wait). */
  readonly syncWaits: SyncWaitLedger;

  constructor(
    private readonly redis: RedisClient,
    namespace: string,
  ) {
    this.keys = new StateKeys(namespace);
    this.requests = new SyncRequests(redis, this.keys);
    this.replicaService = new ReplicaServiceLedger(redis, this.keys);
    this.verification = new VerificationLedger(redis, namespace);
    this.syncWaits = new SyncWaitLedger(redis, this.keys.syncWaitTally, (session, user) =>
      this.keys.deliveryWaits(session, user),
    );
  }

  // --- one sync to one destination -------------------------------------------------------

  /**
   * Reads what a sync to `destination` starts from, and marks the call as in flight in the same
   * round trip: a mark still there at the next sync means this call was abandoned.
   */
  async startDestinationSync(
    destination: string,
    user: string,
    now: number,
    stateTtlMs: number,
  ): Promise<DestinationSyncStart> {
    const reply: unknown = await START.run(
      this.redis,
      7,
      ...this.#startKeys(destination, user),
      user,
      String(now),
      String(stateTtlMs),
    );
    return this.#parseStart(Array.isArray(reply) ? (reply as unknown[]) : []);
  }

  /** START_FUNCTION's seven keys, in its order. */
  #startKeys(destination: string, user: string): string[] {
    const { keys } = this;
    return [
      keys.dsyncState(destination, user),
      keys.lastFullSyncAt(destination),
      keys.lastSuccessAt(destination),
      keys.statesSuspectBefore,
      keys.syncInFlight(destination, user),
      keys.departedMailboxes(destination, user),
      keys.sourceMailboxesAtFailure(destination, user),
    ];
  }

  /** The replies of START (also the end of CLAIM_AND_START's), in order. */
  #parseStart(replies: unknown[]): DestinationSyncStart {
    const [storedState, lastFull, storedAt, suspectBefore, abandonedAt, departed, atFailure] =
      replies;
    const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
    const list = (value: unknown): string[] =>
      Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    const at = text(storedAt);
    const suspectMark = text(suspectBefore);
    return {
      storedState: text(storedState),
      lastFullSyncAt: score(lastFull),
      lastSuccessAt: score(storedAt),
      suspect:
        text(abandonedAt) !== null ||
        (at !== null && suspectMark !== null && Number(at) <= Number(suspectMark)),
      departedBefore: list(departed),
      sourceAtFailure: list(atFailure),
    };
  }

  /** doveadm answered success: the new state, the call's end, and the departed mailboxes. */
  async recordDestinationSynced(
    destination: string,
    user: string,
    synced: DestinationSynced,
    stateTtlMs: number,
  ): Promise<void> {
    const transaction = this.redis.multi();
    this.#addDestinationSynced(transaction, { destination, user, synced, stateTtlMs });
    repliesOf(await transaction.exec());
  }

  #addDestinationSynced(
    transaction: ChainableCommander,
    { destination, user, synced, stateTtlMs }: DestinationSyncedWrite,
  ): void {
    const { keys } = this;
    const departedKey = keys.departedMailboxes(destination, user);
    transaction
      .set(keys.dsyncState(destination, user), synced.state, 'PX', stateTtlMs)
      .del(keys.syncInFlight(destination, user), keys.sourceMailboxesAtFailure(destination, user))
      .zadd(keys.lastSuccessAt(destination), synced.finishedAt, user);
    if (synced.fullSync)
      transaction.zadd(keys.lastFullSyncAt(destination), synced.finishedAt, user);
    if (synced.departed.length > 0) {
      transaction
        .zadd(departedKey, ...synced.departed.flatMap((guid) => [synced.finishedAt, guid]))
        .pexpire(departedKey, stateTtlMs);
    }
  }

  /**
   * A run ended in exit 2 with the state dsync printed for it (doveadm TCP protocol): the state
   * the next run starts from. Only the state: the call's in-flight mark stays until the call
   * is answered (recordDestinationSynced or recordDestinationAnswered), and no success is noted.
   */
  async recordDestinationProgress(
    destination: string,
    user: string,
    state: string,
    stateTtlMs: number,
  ): Promise<void> {
    await this.redis.set(this.keys.dsyncState(destination, user), state, 'PX', stateTtlMs);
  }

  /**
   * doveadm answered with a failure: its dsync is over, nothing was abandoned. With
   * `sourceAtFailure`, the source's mailboxes after a run that failed or ran again are kept for
   * the next sync that succeeds (see DestinationSyncStart.sourceAtFailure). With
   * `replicaMayBeAhead`, a run may have changed the destination while its new state was lost:
   * the in-flight mark stays, so the next sync to it is a full one (see StateKeys.syncInFlight).
   */
  async recordDestinationAnswered(
    destination: string,
    user: string,
    failed?: {
      sourceAtFailure: readonly string[];
      stateTtlMs: number;
      replicaMayBeAhead: boolean;
    },
  ): Promise<void> {
    const inFlight = this.keys.syncInFlight(destination, user);
    const transaction = this.redis.multi();
    if (failed?.replicaMayBeAhead === true)
      transaction.set(inFlight, String(Date.now()), 'PX', failed.stateTtlMs);
    else transaction.del(inFlight);
    if (failed !== undefined && failed.sourceAtFailure.length > 0) {
      const key = this.keys.sourceMailboxesAtFailure(destination, user);
      transaction.sadd(key, ...failed.sourceAtFailure).pexpire(key, failed.stateTtlMs);
    }
    repliesOf(await transaction.exec());
  }

  /** The replica was seen without these departed mailboxes: the repair is done with them. */
  async settleDepartedMailboxes(
    destination: string,
    user: string,
    guids: readonly string[],
  ): Promise<void> {
    if (guids.length === 0) return;
    await this.redis.zrem(this.keys.departedMailboxes(destination, user), ...guids);
  }

  // --- the user's lease and requests -----------------------------------------------------

  /**
   * Takes the user's lease and, in the same round trip, claims every request merged for the
   * user (see SyncRequests) and, with `firstSync`, reads what the sync to that destination
   * starts from (startDestinationSync, its in-flight mark set only for the lease's holder).
   * `lease` is undefined when another sync of the user holds it.
   */
  async claimUser(
    data: SyncUserJobData,
    leaseTtlMs: number,
    onLeaseLost: () => void,
    firstSync?: { destination: string; now: number; stateTtlMs: number },
  ): Promise<{
    lease: UserLease | undefined;
    request: ClaimedSyncRequest;
    /** What the sync to firstSync.destination starts from (only with the lease). */
    start: DestinationSyncStart | undefined;
  }> {
    const { keys } = this;
    const { user } = data;
    const leaseKey = keys.lease(user);
    const candidate = UserLease.candidate(this.redis, leaseKey);
    // Without a first destination the start's keys are never read; any key of the slot will do.
    const destination = firstSync?.destination ?? '';
    const reply: unknown = await CLAIM_AND_START.run(
      this.redis,
      10,
      leaseKey,
      keys.syncRequest(user),
      keys.claimedSyncRequest(user),
      ...this.#startKeys(destination, user),
      candidate.token,
      String(leaseTtlMs),
      REQUEST_TTL,
      user,
      String(firstSync?.now ?? 0),
      String(firstSync?.stateTtlMs ?? 0),
      firstSync === undefined ? '0' : '1',
    );
    if (!Array.isArray(reply))
      return { lease: undefined, request: this.requests.parseClaim(null, data), start: undefined };
    candidate.taken(leaseTtlMs, onLeaseLost);
    const [claimed, ...startReplies] = reply as unknown[];
    return {
      lease: candidate,
      request: this.requests.parseClaim(claimed, data),
      start: firstSync === undefined ? undefined : this.#parseStart(startReplies),
    };
  }

  /** The user's lease alone (failback), or undefined when a sync of the user holds it. */
  async tryLease(user: string, ttlMs: number, onLost: () => void): Promise<UserLease | undefined> {
    return (await UserLease.acquire(this.redis, this.keys.lease(user), ttlMs, onLost)).lease;
  }

  /** One more run in a row that ended in exit 2, under the lease; returns the streak. */
  countChangedRun(user: string, lease: UserLease): Promise<number> {
    return this.requests.countChanged(user, this.keys.lease(user), lease.token);
  }

  // --- the user's outcome ----------------------------------------------------------------

  /**
   * The user is in sync with every destination: marks it so, ends its claimed request when
   * `lease` is given (a worker's sync) and releases the lease, all in one round trip. Successful
   * syncs whose writes were held back (`destinations`) are stored in the same transaction.
   */
  async recordUserSynced(
    user: string,
    synced: { finishedAt: number; fullSync: boolean },
    lease?: UserLease,
    destinations: readonly DestinationSyncedWrite[] = [],
  ): Promise<void> {
    const { keys } = this;
    const destinationKeys: string[] = [];
    const destinationArgs: string[] = [];
    for (const { destination, synced: done, stateTtlMs } of destinations) {
      destinationKeys.push(
        keys.dsyncState(destination, user),
        keys.syncInFlight(destination, user),
        keys.sourceMailboxesAtFailure(destination, user),
        keys.lastSuccessAt(destination),
        keys.lastFullSyncAt(destination),
        keys.departedMailboxes(destination, user),
      );
      destinationArgs.push(
        done.state,
        String(stateTtlMs),
        String(done.finishedAt),
        done.fullSync ? '1' : '0',
        String(done.departed.length),
        ...done.departed,
      );
    }
    lease?.stopRenewing();
    await SYNC_SUCCESS.run(
      this.redis,
      SUCCESS_FIXED_KEYS + destinationKeys.length,
      keys.lastSuccess,
      keys.failedUsers,
      keys.unknownUsers,
      keys.userStatus(user),
      keys.claimedSyncRequest(user),
      keys.lease(user),
      ...destinationKeys,
      user,
      String(synced.finishedAt),
      synced.fullSync ? '1' : '0',
      lease?.token ?? '',
      keys.syncedWaitersChannel,
      String(destinations.length),
      ...destinationArgs,
    );
  }

  /** Successful syncs whose writes were held back, stored now (before a repair reads them). */
  async recordDestinationsSynced(writes: readonly DestinationSyncedWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const transaction = this.redis.multi();
    for (const write of writes) this.#addDestinationSynced(transaction, write);
    repliesOf(await transaction.exec());
  }

  /** A sync failed: what operators see, and the failed or unknown marks. */
  async recordUserFailed(user: string, failure: SyncFailure): Promise<void> {
    const { keys } = this;
    const pipeline = this.redis.pipeline().hset(keys.userStatus(user), {
      [STATUS.lastFailureAt]: failure.at,
      [STATUS.lastFailureCode]: failure.code,
      [STATUS.lastFailureExitCode]: failure.exitCode ?? '',
      [STATUS.lastFailureMessage]: failure.message.slice(0, 500),
    });
    if (failure.unknownUser) pipeline.zadd(keys.unknownUsers, failure.at, user);
    if (failure.givenUp) pipeline.zadd(keys.failedUsers, failure.at, user);
    repliesOf(await pipeline.exec());
  }

  // --- what operators ask ----------------------------------------------------------------

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
        .del(
          keys.dsyncState(destination, user),
          keys.syncInFlight(destination, user),
          keys.departedMailboxes(destination, user),
          keys.sourceMailboxesAtFailure(destination, user),
        )
        .zrem(keys.lastSuccessAt(destination), user)
        .zrem(keys.lastFullSyncAt(destination), user);
    }
    await transaction.exec();
  }

  // --- when users count as stale ---------------------------------------------------------

  /**
   * Events may have been lost since `since` (ms): the scheduler sweeps early and treats every
   * user not synced since then as stale. Keeps the earliest start of overlapping outages.
   */
  async recordOutage(since: number): Promise<void> {
    await this.redis.eval(RECORD_OUTAGE, 1, this.keys.outageSince, String(since));
  }

  /**
   * An ingest replica refused these events (hash -> ms) while Redis was down: shared, so that a
   * retry queued by any replica counts, and retries are watched for `watchMs` from now.
   */
  async shareRefusals(refused: ReadonlyMap<string, number>, watchMs: number): Promise<void> {
    const { keys } = this;
    const members = [...refused].flatMap(([hash, at]) => [at, hash]);
    const pipeline = this.redis.multi();
    if (members.length > 0)
      pipeline.zadd(keys.refusedEvents, ...members).pexpire(keys.refusedEvents, REFUSAL_TTL_MS);
    pipeline.set(keys.outageWatch, '1', 'PX', watchMs);
    repliesOf(await pipeline.exec());
  }

  /** True while some replica watches for retries of events it refused. */
  async watchingRetries(): Promise<boolean> {
    return (await this.redis.exists(this.keys.outageWatch)) === 1;
  }

  /** An event was queued while retries are watched: if it was refused before, it was retried. */
  async noteQueuedDuringWatch(hash: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(this.keys.retriedEvents, hash)
      .pexpire(this.keys.retriedEvents, REFUSAL_TTL_MS)
      .exec();
  }

  /**
   * Settles the refusals older than `before` (ms): retried ones are forgotten; the earliest one
   * never retried is recorded as the outage's start (a catch-up sweep). Returns that, if any.
   */
  async settleRefusals(before: number): Promise<number | undefined> {
    const { keys } = this;
    const lost = await this.redis.eval(
      SETTLE_REFUSALS,
      3,
      keys.refusedEvents,
      keys.retriedEvents,
      keys.outageSince,
      String(before),
    );
    return typeof lost === 'string' ? Number(lost) : undefined;
  }

  /** The recorded outage's start, as stored (to clear exactly that one), or null. */
  outageSince(): Promise<string | null> {
    return this.redis.get(this.keys.outageSince);
  }

  async hasOutage(): Promise<boolean> {
    return (await this.redis.exists(this.keys.outageSince)) === 1;
  }

  /** Clears the outage a sweep caught up from, unless a newer one was recorded meanwhile. */
  async clearOutage(since: string): Promise<void> {
    await this.redis.eval(COMPARE_AND_DELETE, 1, this.keys.outageSince, since);
  }

  /**
   * After a crash that may have cost the AOF its last writes: dsync states stored before `at`
   * are not trusted, and a sync from one runs as a full sync.
   */
  async markStatesSuspectBefore(at: number): Promise<void> {
    await this.redis.set(this.keys.statesSuspectBefore, String(at));
  }

  /** Takes the sweep lock; undefined when another scheduler replica sweeps. */
  async acquireSweepLock(ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    return (await this.redis.set(this.keys.sweepLock, token, 'PX', ttlMs, 'NX')) === 'OK'
      ? token
      : undefined;
  }

  async releaseSweepLock(token: string): Promise<void> {
    await this.redis.eval(COMPARE_AND_DELETE, 1, this.keys.sweepLock, token);
  }

  /** Extends the sweep lock while the sweep runs; false when it was lost to another replica. */
  async renewSweepLock(token: string, ttlMs: number): Promise<boolean> {
    return (
      (await this.redis.eval(COMPARE_AND_EXPIRE, 1, this.keys.sweepLock, token, String(ttlMs))) ===
      1
    );
  }

  /** The cursor of a sweep cut short, or undefined when none is stored. */
  async readSweepCursor(): Promise<SweepCursor | undefined> {
    const stored = await this.redis.hgetall(this.keys.sweepCursor);
    if (CURSOR_FIELDS.some((field) => stored[field] === undefined)) return undefined;
    const numberOf = (field: (typeof CURSOR_FIELDS)[number]): number => Number(stored[field]);
    const cursor: SweepCursor = {
      startedAt: numberOf('startedAt'),
      staleBefore: numberOf('staleBefore'),
      fullBefore: numberOf('fullBefore'),
      outage: stored['outage'] ?? '',
      position: numberOf('position'),
      lastUser: stored['lastUser'] ?? '',
      queued: numberOf('queued'),
      queuedFull: numberOf('queuedFull'),
    };
    const numbers = [
      cursor.startedAt,
      cursor.staleBefore,
      cursor.fullBefore,
      cursor.position,
      cursor.queued,
      cursor.queuedFull,
    ];
    // -Infinity is a valid bound ("no full sync by age"); NaN means a damaged hash.
    return numbers.some((value) => Number.isNaN(value)) ? undefined : cursor;
  }

  /** Stores the sweep's place; it lives as long as a sweep may pause between batches. */
  async writeSweepCursor(cursor: SweepCursor, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.sweepCursor, { ...cursor })
      .pexpire(this.keys.sweepCursor, ttlMs)
      .exec();
  }

  async clearSweepCursor(): Promise<void> {
    await this.redis.del(this.keys.sweepCursor);
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
