/**
 * What one server holds for one user, in the terms replication must preserve: the folder tree,
 * every selectable folder's identity and counters, every message's UID, GUID and flags, and
 * the subscriptions. Plain data, so two snapshots compare without a server and print as JSON.
 */
export interface ReplicaSnapshot {
  /** Every folder, sorted by name. */
  folders: ReplicaFolder[];
  /** The subscribed names, sorted. A name may outlive its folder. */
  subscriptions: string[];
}

export type ReplicaFolder = ReplicaMailbox | NoselectFolder;

/**
 * A folder that is in the tree but holds no mailbox: a parent that exists only because of a
 * child (`a` of `a/b`; IMAP `\Noselect` or `\NonExistent`). Its existence is part of the tree
 * a client sees, so it is compared; it has nothing else to compare.
 */
export interface NoselectFolder {
  name: string;
  selectable: false;
}

export interface ReplicaMailbox {
  name: string;
  selectable: true;
  guid: string;
  uidvalidity: number;
  uidnext: number;
  /** The count `mailbox status` reports, read apart from `messages` and compared on its own. */
  messageCount: number;
  /**
   * HIGHESTMODSEQ as read, never compared (it differs between replicas whose contents match):
   * it changes with every change of the mailbox, so the verifier can tell that neither side
   * changed since the two were last found equal. Absent where not read.
   */
  highestModseq?: string;
  /** Sorted by UID. */
  messages: ReplicaMessage[];
}

export interface ReplicaMessage {
  uid: number;
  guid: string;
  /**
   * System flags and keywords, sorted, without `\Recent`: that one belongs to a session and
   * differs between replicas by design.
   */
  flags: string[];
}

/** The snapshot of a user that has no home on a server: nothing there, and nothing created. */
export function emptySnapshot(): ReplicaSnapshot {
  return { folders: [], subscriptions: [] };
}

/** The folder named `name`, or undefined. */
export function findFolder(snapshot: ReplicaSnapshot, name: string): ReplicaFolder | undefined {
  return snapshot.folders.find((folder) => folder.name === name);
}

/** The selectable folders only. */
export function mailboxesOf(snapshot: ReplicaSnapshot): ReplicaMailbox[] {
  return snapshot.folders.filter((folder): folder is ReplicaMailbox => folder.selectable);
}
