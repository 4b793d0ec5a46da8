/**
 * Redis keys for per-user replication state, all under NAMESPACE. Usernames may contain ':'
 * and that is fine inside a key; it is only BullMQ's job ids that cannot.
 */
export class StateKeys {
  constructor(readonly namespace: string) {}

  /** The dsync state string that makes the next sync incremental. */
  dsyncState(user: string): string {
    return `${this.namespace}:dsync-state:${user}`;
  }

  /** Sorted set: member user, score ms of the last successful sync. Answers "who is stale". */
  get lastSuccess(): string {
    return `${this.namespace}:last-success`;
  }

  /** Sorted set: member user, score ms of the last successful full sync. */
  get lastFullSync(): string {
    return `${this.namespace}:last-full-sync`;
  }
}
