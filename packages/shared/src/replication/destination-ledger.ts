import type { RedisClient } from '../redis/redis-connection';
import { LuaScript } from '../redis/lua-script';
import { repliesOf, score } from '../redis/replies';
import type { StateKeys } from './state-keys';

/** How long a stored dsync state lives without a successful sync refreshing it (default). */
export const DEFAULT_STATE_TTL_MS = 30 * 24 * 3600 * 1000;

const START = LuaScript.fromFile(__dirname, 'lua/start-destination-sync-7.lua');
const RECORD_SYNCED = LuaScript.fromFile(__dirname, 'lua/record-destinations-synced.lua');

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

/** One destination's successful sync, to be stored (see SyncSessions.recordSynced). */
export interface DestinationSyncedWrite {
  destination: string;
  user: string;
  synced: DestinationSynced;
  stateTtlMs: number;
}

/**
 * One destination's arguments of lua/includes/destination-synced.lua (the one rule of what a
 * destination's success writes, in both scripts that store one).
 */
export function destinationSyncedArgs({
  synced,
  stateTtlMs,
}: DestinationSyncedWrite): (string | number)[] {
  return [
    synced.state,
    stateTtlMs,
    synced.finishedAt,
    synced.fullSync ? '1' : '0',
    synced.departed.length,
    ...synced.departed,
  ];
}

/** The replies of the start (lua/includes/destination-start.lua), in order. */
export function parseDestinationStart(replies: unknown[]): DestinationSyncStart {
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

/**
 * A user's ledger at one destination: the dsync state the next sync starts from, whether the last
 * call was abandoned or may have left the destination ahead of that state, the mailboxes the
 * source deleted that the destination may still hold, and the destination's success marks. What
 * "the destination is synced" writes is one Lua fragment (lua/includes/destination-synced.lua),
 * run here (recordSynced) and in the user's success script (lua/record-user-synced.lua).
 */
export class DestinationLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  /**
   * Reads what a sync to `destination` starts from, and marks the call as in flight in the same
   * round trip: a mark still there at the next sync means this call was abandoned.
   */
  async start(
    destination: string,
    user: string,
    now: number,
    stateTtlMs: number,
  ): Promise<DestinationSyncStart> {
    const reply: unknown = await START.run(this.redis, {
      keys: this.keys.destinationStart(destination, user),
      args: [user, now, stateTtlMs],
    });
    return parseDestinationStart(Array.isArray(reply) ? (reply as unknown[]) : []);
  }

  /** doveadm answered success: the new state, the call's end, and the departed mailboxes. */
  async recordSynced(write: DestinationSyncedWrite): Promise<void> {
    await this.recordManySynced([write]);
  }

  /** Successful syncs whose writes were held back, stored now (before a repair reads them). */
  async recordManySynced(writes: readonly DestinationSyncedWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await RECORD_SYNCED.run(this.redis, {
      keys: writes.flatMap(({ destination, user }) =>
        this.keys.destinationSuccess(destination, user),
      ),
      args: [
        writes.length,
        ...writes.flatMap((write) => [write.user, ...destinationSyncedArgs(write)]),
      ],
    });
  }

  /**
   * A run ended in exit 2 with the state dsync printed for it (doveadm TCP protocol): the state
   * the next run starts from. Only the state: the call's in-flight mark stays until the call
   * is answered (recordSynced or recordAnswered), and no success is noted.
   */
  async recordProgress(
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
  async recordAnswered(
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
  async settleDeparted(destination: string, user: string, guids: readonly string[]): Promise<void> {
    if (guids.length === 0) return;
    await this.redis.zrem(this.keys.departedMailboxes(destination, user), ...guids);
  }

  /**
   * After a crash that may have cost the AOF its last writes: dsync states stored before `at`
   * are not trusted, and a sync from one runs as a full sync.
   */
  async markStatesSuspectBefore(at: number): Promise<void> {
    await this.redis.set(this.keys.statesSuspectBefore, String(at));
  }
}
