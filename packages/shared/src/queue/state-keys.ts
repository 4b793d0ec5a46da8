/**
 * Redis keys for per-user replication state, all under NAMESPACE. Usernames may contain ':'
 * and that is fine at the end of a key; a destination is URI-encoded (no ':' left) so that
 * (destination, user) pairs can never collide.
 */
export class StateKeys {
  constructor(readonly namespace: string) {}

  /** The dsync state string that makes the next sync to this destination incremental. */
  dsyncState(destination: string, user: string): string {
    return `${this.namespace}:dsync-state:${encodeURIComponent(destination)}:${user}`;
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
   * Set by ingest on a RENAME: the next sync of this user runs twice. Dovecot's dsync
   * subscribes the renamed mailbox on the source while it carries the rename over (seen on
   * 2.4.1 with doveadm sync alone), so only a second sync brings B's subscriptions in line.
   */
  secondPass(user: string): string {
    return `${this.namespace}:second-pass:${user}`;
  }

  /**
   * When ingest could not queue events (Redis down): ms of the outage's start. The next sweep
   * runs early and treats every user not synced since then as stale, then clears it.
   */
  get outageSince(): string {
    return `${this.namespace}:outage-since`;
  }

  /** Held while a sweep runs, so that scheduler replicas never sweep at the same time. */
  get sweepLock(): string {
    return `${this.namespace}:sweep-lock`;
  }

  /** The per-user lease that keeps two syncs of one user from running at once. */
  lease(user: string): string {
    return `${this.namespace}:lease:${user}`;
  }
}
