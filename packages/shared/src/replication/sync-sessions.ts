import type { RedisClient } from '../redis/redis-connection';
import { LuaScript } from '../redis/lua-script';
import type { SyncUserJobData } from '../queue/catalogue';
import {
  type DestinationSyncStart,
  type DestinationSyncedWrite,
  destinationSyncedArgs,
  parseDestinationStart,
} from './destination-ledger';
import { repliesOf } from '../redis/replies';
import { type StateKeys, USER_STATUS_FIELDS as STATUS } from './state-keys';
import { type ClaimedSyncRequest, REQUEST_TTL, type SyncRequests } from './sync-requests';
import { UserLease } from './user-lease';

const CLAIM = LuaScript.fromFile(__dirname, 'lua/claim-user-10.lua');
const SUCCESS = LuaScript.fromFile(__dirname, 'lua/record-user-synced.lua');

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

/** What a claim gives the sync that took the user's lease. */
export interface SyncClaim {
  /** Undefined when another sync of the user holds it. */
  lease: UserLease | undefined;
  request: ClaimedSyncRequest;
  /** What the sync to the first destination starts from (only with the lease, when asked). */
  start: DestinationSyncStart | undefined;
}

/**
 * A user's sync session, from its claim to its outcome: the lease that keeps one sync of the
 * user at a time, the claim of every request merged for the user, and the one write of a
 * success (every destination's state, the marks, the claim's end, waiting deliveries told, the
 * lease released) or of a failure. The scripts that cross concepts live here, with their use.
 */
export class SyncSessions {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly requests: SyncRequests,
  ) {}

  /**
   * Takes the user's lease and, in the same round trip, claims every request merged for the
   * user (see SyncRequests) and, with `firstSync`, reads what the sync to that destination
   * starts from (DestinationLedger.start, its in-flight mark set only for the lease's holder).
   */
  async claim(
    data: SyncUserJobData,
    leaseTtlMs: number,
    onLeaseLost: () => void,
    firstSync?: { destination: string; now: number; stateTtlMs: number },
  ): Promise<SyncClaim> {
    const { keys } = this;
    const { user } = data;
    const leaseKey = keys.lease(user);
    const candidate = UserLease.candidate(this.redis, leaseKey);
    // Without a first destination the start's keys are never read; any key of the slot will do.
    const reply: unknown = await CLAIM.run(this.redis, {
      keys: [
        leaseKey,
        keys.syncRequest(user),
        keys.claimedSyncRequest(user),
        ...keys.destinationStart(firstSync?.destination ?? '', user),
      ],
      args: [
        candidate.token,
        leaseTtlMs,
        REQUEST_TTL,
        user,
        firstSync?.now ?? 0,
        firstSync?.stateTtlMs ?? 0,
        firstSync === undefined ? '0' : '1',
      ],
    });
    if (!Array.isArray(reply))
      return { lease: undefined, request: this.requests.parseClaim(null, data), start: undefined };
    candidate.taken(leaseTtlMs, onLeaseLost);
    const [claimed, ...startReplies] = reply as unknown[];
    return {
      lease: candidate,
      request: this.requests.parseClaim(claimed, data),
      start: firstSync === undefined ? undefined : parseDestinationStart(startReplies),
    };
  }

  /** The user's lease alone (failback, a verifier's repair), or undefined while a sync holds it. */
  async tryLease(user: string, ttlMs: number, onLost: () => void): Promise<UserLease | undefined> {
    return UserLease.acquire(this.redis, this.keys.lease(user), ttlMs, onLost);
  }

  /** One more run in a row that ended in exit 2, under the lease; returns the streak. */
  countChangedRun(user: string, lease: UserLease): Promise<number> {
    return this.requests.countChanged(user, this.keys.lease(user), lease.token);
  }

  /**
   * The user is in sync with every destination: marks it so, ends its claimed request when
   * `lease` is given (a worker's sync: the deliveries waiting on it are told) and releases the
   * lease, all in one round trip. Successful syncs whose writes were held back (`destinations`)
   * are stored in the same script.
   */
  async recordSynced(
    user: string,
    synced: { finishedAt: number; fullSync: boolean },
    lease?: UserLease,
    destinations: readonly DestinationSyncedWrite[] = [],
  ): Promise<void> {
    const { keys } = this;
    const destinationKeys: string[] = [];
    const destinationArgs: (string | number)[] = [];
    for (const write of destinations) {
      destinationKeys.push(...keys.destinationSuccess(write.destination, user));
      destinationArgs.push(...destinationSyncedArgs(write));
    }
    lease?.stopRenewing();
    await SUCCESS.run(this.redis, {
      keys: [
        keys.lastSuccess,
        keys.failedUsers,
        keys.unknownUsers,
        keys.userStatus(user),
        keys.claimedSyncRequest(user),
        keys.lease(user),
        ...destinationKeys,
      ],
      args: [
        user,
        synced.finishedAt,
        synced.fullSync ? '1' : '0',
        lease?.token ?? '',
        keys.syncedWaitersChannel,
        destinations.length,
        ...destinationArgs,
      ],
    });
  }

  /** A sync failed: what operators see, and the failed or unknown marks. */
  async recordFailed(user: string, failure: SyncFailure): Promise<void> {
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
}
