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
  /**
   * Departed mailboxes a folder repair after this sync found gone from the destination: its
   * work with them is done.
   */
  settled?: readonly string[];
}

/** One destination's successful sync, to be stored (see SyncSessions.recordSynced). */
export interface DestinationSyncedWrite {
  destination: string;
  user: string;
  synced: DestinationSynced;
  stateTtlMs: number;
}

/**
 * A sync to one destination that doveadm answered with a failure: its dsync is over, nothing was
 * abandoned (see DestinationLedger.recordOutcomes).
 */
export interface DestinationAnsweredWrite {
  destination: string;
  user: string;
  /**
   * The state dsync printed for an exit 2 earlier in this call (doveadm TCP protocol): the next
   * run starts from it, not from the older stored one.
   */
  progress?: string;
  /** The source's mailboxes after runs that failed or ran again (see sourceAtFailure). */
  sourceAtFailure: readonly string[];
  /**
   * A run may have changed the destination while its new state was lost: the in-flight mark
   * stays, so the next sync to it is a full one (see StateKeys.syncInFlight).
   */
  replicaMayBeAhead: boolean;
  stateTtlMs: number;
}

/** What one sync did to each destination, held in memory until it is recorded at its end. */
export interface DestinationOutcomeWrites {
  synced: readonly DestinationSyncedWrite[];
  answered: readonly DestinationAnsweredWrite[];
}

/**
 * What a sync to the destination starts from once `synced` is stored: the same as
 * lua/includes/destination-synced.lua writes and lua/includes/destination-start.lua reads back,
 * without the round trip. A sync that runs again (a second pass, a check after a folder repair)
 * starts from it while the first run's outcome is still unrecorded.
 */
export function startAfterSynced(
  before: DestinationSyncStart,
  synced: DestinationSynced,
): DestinationSyncStart {
  const settled = new Set(synced.settled ?? []);
  return {
    storedState: synced.state,
    lastFullSyncAt: synced.fullSync ? synced.finishedAt : before.lastFullSyncAt,
    lastSuccessAt: synced.finishedAt,
    suspect: false,
    departedBefore: [...new Set([...before.departedBefore, ...synced.departed])].filter(
      (guid) => !settled.has(guid),
    ),
    sourceAtFailure: [],
  };
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
    synced.settled?.length ?? 0,
    ...(synced.settled ?? []),
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

  /**
   * What a sync that did not succeed as a whole did to each destination, stored at its end:
   * the destinations that synced (their new states), and those doveadm answered with a failure
   * (the call's end, the state an exit 2 printed, the source's mailboxes at the failure, and
   * whether the next sync must be full). A destination whose call was abandoned (a timeout, an
   * abort) is in neither: its in-flight mark stays, and the next sync to it is a full one.
   * A success as a whole is stored by SyncSessions.recordSynced, with the user's marks.
   */
  async recordOutcomes({ synced, answered }: DestinationOutcomeWrites): Promise<void> {
    if (synced.length > 0)
      await RECORD_SYNCED.run(this.redis, {
        keys: synced.flatMap(({ destination, user }) =>
          this.keys.destinationSuccess(destination, user),
        ),
        args: [
          synced.length,
          ...synced.flatMap((write) => [write.user, ...destinationSyncedArgs(write)]),
        ],
      });
    if (answered.length === 0) return;
    const transaction = this.redis.multi();
    for (const write of answered) {
      const { destination, user, stateTtlMs } = write;
      if (write.progress !== undefined)
        transaction.set(this.keys.dsyncState(destination, user), write.progress, 'PX', stateTtlMs);
      const inFlight = this.keys.syncInFlight(destination, user);
      if (write.replicaMayBeAhead) transaction.set(inFlight, String(Date.now()), 'PX', stateTtlMs);
      else transaction.del(inFlight);
      if (write.sourceAtFailure.length > 0) {
        const key = this.keys.sourceMailboxesAtFailure(destination, user);
        transaction.sadd(key, ...write.sourceAtFailure).pexpire(key, stateTtlMs);
      }
    }
    repliesOf(await transaction.exec());
  }

  /**
   * After a crash that may have cost the AOF its last writes: dsync states stored before `at`
   * are not trusted, and a sync from one runs as a full sync.
   */
  async markStatesSuspectBefore(at: number): Promise<void> {
    await this.redis.set(this.keys.statesSuspectBefore, String(at));
  }
}
