/** The fields of a user's status hash: what operators ask about beyond the sorted sets. */
export const USER_STATUS_FIELDS = {
  lastSuccessAt: 'lastSuccessAt',
  lastFullSyncAt: 'lastFullSyncAt',
  lastFailureAt: 'lastFailureAt',
  lastFailureCode: 'lastFailureCode',
  lastFailureExitCode: 'lastFailureExitCode',
  lastFailureMessage: 'lastFailureMessage',
} as const;

/**
 * The key registry: every Redis key of dovewarden's own state, and every list of keys a script
 * takes, built here once. Redis keys for per-user replication state, all under NAMESPACE. Usernames may contain ':'
 * and that is fine at the end of a key; a destination is URI-encoded (no ':' left) so that
 * (destination, user) pairs can never collide.
 */
export class StateKeys {
  constructor(readonly namespace: string) {}

  /** The dsync state string that makes the next sync to this destination incremental. */
  dsyncState(destination: string, user: string): string {
    return `${this.namespace}:dsync-state:${encodeURIComponent(destination)}:${user}`;
  }

  /**
   * Set (ms) just before a sync call to this destination and removed once a new dsync state is
   * stored. Left behind, it means the replica may hold more than the stored state says: a call
   * was abandoned (timeout, abort, a worker killed) while its dsync may have gone on changing
   * B, or doveadm answered a run that may have changed B with a failure or exit 2, whose new
   * state never comes back over HTTP. The next sync to this destination is then a full one.
   */
  syncInFlight(destination: string, user: string): string {
    return `${this.namespace}:sync-in-flight:${encodeURIComponent(destination)}:${user}`;
  }

  /**
   * Sorted set: GUIDs (score: ms) of mailboxes that left the user's dsync state, i.e. that the
   * source deleted, until the replica is seen without them. dsync -1 can keep such a mailbox
   * on the replica for good; the worker deletes it there (folder repair).
   */
  departedMailboxes(destination: string, user: string): string {
    return `${this.namespace}:departed-mailboxes:${encodeURIComponent(destination)}:${user}`;
  }

  /**
   * Set: GUIDs of the source's mailboxes when a sync to this destination failed or ran again
   * (exit 2). Such a run may have made those mailboxes on the replica without any stored state
   * knowing them; the next sync that succeeds counts the ones its state lacks as departed.
   */
  sourceMailboxesAtFailure(destination: string, user: string): string {
    return `${this.namespace}:source-mailboxes-at-failure:${encodeURIComponent(destination)}:${user}`;
  }

  /** Sorted set: member user, score ms of the last sync that succeeded to every destination. */
  get lastSuccess(): string {
    return `${this.namespace}:last-success`;
  }

  /** Sorted set per destination: member user, score ms of its last successful sync there. */
  lastSuccessAt(destination: string): string {
    return `${this.namespace}:last-success:${encodeURIComponent(destination)}`;
  }

  /** Sorted set per destination: member user, score ms of its last successful full sync there. */
  lastFullSyncAt(destination: string): string {
    return `${this.namespace}:last-full-sync:${encodeURIComponent(destination)}`;
  }

  /** Sorted set: users whose sync failed for good (attempts used up), score ms of the failure. */
  get failedUsers(): string {
    return `${this.namespace}:failed-users`;
  }

  /** Sorted set: users doveadm did not know (exit 67), score ms; background passes skip them. */
  get unknownUsers(): string {
    return `${this.namespace}:unknown-users`;
  }

  /** Hash of what operators ask about a user: last success, last failure and its exit code. */
  userStatus(user: string): string {
    return `${this.namespace}:user-status:${user}`;
  }

  /**
   * Hash: what every request for this user since the last claim asked for, merged (a full
   * sync, a second pass, the highest priority, the earliest change). See SyncRequests.
   */
  syncRequest(user: string): string {
    return `${this.namespace}:sync-request:${user}`;
  }

  /** Hash: the requests the user's running (or retrying) sync took over; gone on success. */
  claimedSyncRequest(user: string): string {
    return `${this.namespace}:sync-request-claimed:${user}`;
  }

  /**
   * When ingest could not queue events (Redis down): ms of the outage's start. The next sweep
   * runs early and treats every user not synced since then as stale, then clears it.
   */
  get outageSince(): string {
    return `${this.namespace}:outage-since`;
  }

  /**
   * Sorted set: hashes of events ingest refused (Redis down), score ms of the refusal, until the
   * retry window has passed; with `retriedEvents`, tells an outage Dovecot's retries covered
   * from one that lost events, across every ingest replica.
   */
  get refusedEvents(): string {
    return `${this.namespace}:refused-events`;
  }

  /** Set: hashes of events queued while an outage is watched (Dovecot's retries). */
  get retriedEvents(): string {
    return `${this.namespace}:retried-events`;
  }

  /** Present while some ingest replica watches for the retries of events it refused. */
  get outageWatch(): string {
    return `${this.namespace}:outage-watch`;
  }

  /**
   * Set when `dovewarden all` finds that its last run was killed: the AOF may have lost the
   * last second of writes, so a dsync state stored before this (ms) may be older than what B
   * holds. A sync from such a state runs as a full sync.
   */
  get statesSuspectBefore(): string {
    return `${this.namespace}:states-suspect-before`;
  }

  /** Held while a sweep runs, so that scheduler replicas never sweep at the same time. */
  get sweepLock(): string {
    return `${this.namespace}:sweep-lock`;
  }

  /**
   * Hash: where the running sweep is (its position in the user list, the last user it passed,
   * its stale and full-sync bounds), so that a sweep cut short by a restart goes on from there.
   */
  get sweepCursor(): string {
    return `${this.namespace}:sweep-cursor`;
  }

  /**
   * Sorted set: users the replica served (a change made there, reported by the replica's own
   * events), score ms of the first such change since the user's last failback. `backup` would
   * destroy what they hold on B alone, so they are synced one-way until an operator fails them
   * back. See ReplicaServiceLedger.
   */
  get servedByReplica(): string {
    return `${this.namespace}:served-by-replica`;
  }

  /**
   * Pub/sub channel, not a key: a successful sync publishes on it the tokens of the deliveries
   * that waited for it (POST /sync-wait), space-separated.
   */
  get syncedWaitersChannel(): string {
    return `${this.namespace}:synced-waiters`;
  }

  /** Hash: how ingest answered deliveries that waited for the replica (SyncWaitLedger). */
  get syncWaitTally(): string {
    return `${this.namespace}:sync-wait-tally`;
  }

  /**
   * Hash: the waits of one delivery (Dovecot's session id of one recipient) for its mail to be
   * on B, started and synced, for a few minutes (SyncWaitLedger).
   */
  deliveryWaits(session: string, user: string): string {
    return `${this.namespace}:delivery-waits:${encodeURIComponent(session)}:${user}`;
  }

  // --- key lists, each in the order of the script or command that takes it ----------------

  /** What a sync to a destination starts from (lua/includes/destination-start.lua's order). */
  destinationStart(destination: string, user: string): string[] {
    return [
      this.dsyncState(destination, user),
      this.lastFullSyncAt(destination),
      this.lastSuccessAt(destination),
      this.statesSuspectBefore,
      this.syncInFlight(destination, user),
      this.departedMailboxes(destination, user),
      this.sourceMailboxesAtFailure(destination, user),
    ];
  }

  /** A destination's part of a successful sync (lua/record-user-synced.lua's order). */
  destinationSuccess(destination: string, user: string): string[] {
    return [
      this.dsyncState(destination, user),
      this.syncInFlight(destination, user),
      this.sourceMailboxesAtFailure(destination, user),
      this.lastSuccessAt(destination),
      this.lastFullSyncAt(destination),
      this.departedMailboxes(destination, user),
    ];
  }

  /** Every key of one user at one destination (forgetting the user). */
  destinationUser(destination: string, user: string): string[] {
    return [
      this.dsyncState(destination, user),
      this.syncInFlight(destination, user),
      this.departedMailboxes(destination, user),
      this.sourceMailboxesAtFailure(destination, user),
    ];
  }

  /** The per-user lease that keeps two syncs of one user from running at once. */
  lease(user: string): string {
    return `${this.namespace}:lease:${user}`;
  }
}
