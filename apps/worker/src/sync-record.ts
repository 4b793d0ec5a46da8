import {
  type DestinationAnsweredWrite,
  type DestinationSyncStart,
  type DestinationSyncedWrite,
  type Logger,
  type ReplicationState,
  type UserLease,
  startAfterSynced,
} from '@dovewarden/shared';

/**
 * What one sync of a user did, in memory until its end: what each destination started from, the
 * runs that succeeded (their new dsync states), the calls doveadm answered with a failure, and
 * the departed mailboxes a folder repair settled. The runs write nothing to Redis; the sync's
 * outcome is recorded once, by `storeSuccess` or `storeFailure`.
 *
 * Holding the writes until then is safe because every destination's start set its in-flight
 * mark (DestinationLedger.start): a worker that dies before the record leaves the mark, and the
 * next sync to that destination is a full one, whatever the runs did to it.
 */
export class SyncRecord {
  readonly #starts = new Map<string, DestinationSyncStart>();
  readonly #synced: DestinationSyncedWrite[] = [];
  readonly #answered: DestinationAnsweredWrite[] = [];

  constructor(readonly user: string) {}

  /**
   * What the next run to `destination` starts from: what it started from (read with its
   * in-flight mark), updated by each run of this sync that succeeded; undefined before the first.
   */
  startOf(destination: string): DestinationSyncStart | undefined {
    return this.#starts.get(destination);
  }

  /** The destination's start as read from Redis, with its in-flight mark set. */
  began(destination: string, start: DestinationSyncStart): void {
    this.#starts.set(destination, start);
  }

  /** A run to a destination succeeded: its new state, and what the next run starts from. */
  synced(write: DestinationSyncedWrite): void {
    this.#synced.push(write);
    const before = this.#starts.get(write.destination);
    if (before !== undefined)
      this.#starts.set(write.destination, startAfterSynced(before, write.synced));
  }

  /** doveadm answered a call to a destination with a failure (see DestinationAnsweredWrite). */
  answered(write: DestinationAnsweredWrite): void {
    this.#answered.push(write);
  }

  /**
   * A folder repair found these departed mailboxes gone from the destination: noted with the
   * destination's last successful run, and gone from what the next run starts from.
   */
  settle(destination: string, guids: readonly string[]): void {
    if (guids.length === 0) return;
    const index = this.#synced.findLastIndex((write) => write.destination === destination);
    const last = this.#synced[index];
    if (last === undefined) return;
    const settled = [...new Set([...(last.synced.settled ?? []), ...guids])];
    this.#synced[index] = { ...last, synced: { ...last.synced, settled } };
    const start = this.#starts.get(destination);
    if (start !== undefined)
      this.#starts.set(destination, {
        ...start,
        departedBefore: start.departedBefore.filter((guid) => !guids.includes(guid)),
      });
  }

  /** The successful runs so far (tests, and what a success stores). */
  get syncedWrites(): readonly DestinationSyncedWrite[] {
    return this.#synced;
  }

  /** The failed calls doveadm answered so far. */
  get answeredWrites(): readonly DestinationAnsweredWrite[] {
    return this.#answered;
  }

  /**
   * The one record of a success: every destination's new state, the user's success marks, the
   * claim's end (waiting deliveries told) and the lease's release, in one script.
   */
  async storeSuccess(
    state: ReplicationState,
    marks: { finishedAt: number; fullSync: boolean },
    lease?: UserLease,
  ): Promise<void> {
    await state.sessions.recordSynced(this.user, marks, lease, this.#take().synced);
  }

  /**
   * The one record of a failure, whatever it was (a failed call, an abort, a repair that
   * failed): the destinations that synced keep their new states, and those doveadm answered
   * end their calls. The user's failure marks are the caller's (they depend on the attempt).
   *
   * A failure to store is logged, not thrown: the error that ended the sync is the one the
   * caller must act on, and what could not be stored leaves the in-flight marks, so the next
   * sync to those destinations is a full one.
   */
  async storeFailure(state: ReplicationState, log: Logger): Promise<void> {
    try {
      await state.destinations.recordOutcomes(this.#take());
    } catch (error: unknown) {
      log.warn('could not record what a failed sync did; its next sync runs as a full one', {
        user: this.user,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Each write is stored once, even if a store is retried. */
  #take(): { synced: DestinationSyncedWrite[]; answered: DestinationAnsweredWrite[] } {
    return { synced: this.#synced.splice(0), answered: this.#answered.splice(0) };
  }
}
