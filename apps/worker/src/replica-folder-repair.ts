import type { DoveadmClient } from '@dovewarden/doveadm-client';
import type { Logger, ReplicaMailboxes } from '@dovewarden/shared';
import type { WorkerMetrics } from './worker-metrics';

/** What the repair reads on both servers and changes on one replica. */
export interface ReplicaFolderRepairDeps {
  source: Pick<DoveadmClient, 'mailboxStatus' | 'mailboxList'>;
  /** The replica's Doveadm API, or its doveadm service (the dsync destination). */
  replica: Pick<
    ReplicaMailboxes,
    'mailboxStatus' | 'mailboxList' | 'mailboxRename' | 'mailboxDelete' | 'mailboxUnsubscribe'
  >;
  /** The dsync destination this replica is. */
  destination: string;
}

/** One folder known to both servers by its GUID, under two names. */
export interface FolderRename {
  guid: string;
  /** Its name on the replica. */
  from: string;
  /** Its name on the source. */
  to: string;
}

export interface FolderDelete {
  guid: string;
  /** Its name on the replica. */
  name: string;
}

/** One folder on the replica as the repair reads it. */
interface ReplicaFolder {
  name: string;
  /** No message was ever saved in it (UIDNEXT 1). */
  neverHeldMail: boolean;
}

export interface ReplicaFolderRepairResult {
  renamed: FolderRename[];
  deleted: FolderDelete[];
  /** Subscriptions dropped on the replica: of names neither server has a folder of. */
  unsubscribed: string[];
  /** Left as they are: the source's name is taken on the replica, or the delete failed. */
  blocked: (FolderRename | FolderDelete)[];
  /** Departed mailboxes the replica no longer holds: nothing left to do for them. */
  settled: string[];
}

/**
 * Changes on one call at most this many folders; the next sync that looks goes on. Each
 * rename re-reads both trees, because renaming a parent moves its children too.
 */
const MAX_CHANGES_PER_CALL = 20;

/** The replica's folders by GUID: messages and UIDNEXT come in the same call. */
async function replicaFolders(
  client: ReplicaFolderRepairDeps['replica'],
  user: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, ReplicaFolder>> {
  const rows = await client.mailboxStatus(
    user,
    ['messages', 'uidnext', 'guid'],
    '*',
    signal === undefined ? {} : { signal },
  );
  return new Map(
    rows.map((row) => [
      row.guid,
      { name: row.mailbox, neverHeldMail: row.messages === '0' && row.uidnext === '1' },
    ]),
  );
}

async function namesByGuid(
  client: Pick<DoveadmClient, 'mailboxStatus'>,
  user: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const rows = await client.mailboxStatus(
    user,
    ['guid'],
    '*',
    signal === undefined ? {} : { signal },
  );
  return new Map(rows.map((row) => [row.guid, row.mailbox]));
}

/**
 * dsync -1 settles the folder tree as a two-way sync does, by whole-second timestamps, and then
 * drops the changes it meant for the source. When the replica's side wins (a folder renamed or
 * deleted on A within the second of a sync's own change on B), the replica keeps the old name,
 * or the deleted folder, for good: every later sync, full ones included, decides the same
 * (measured on 2.4.1, see docs/reliability.md). This finishes what dsync left undone, on the
 * replica only, through its Doveadm API or doveadm service; nothing is written to the source.
 * - Renames: folders matched by mailbox GUID, the shortest source name first (parents before
 *   children), never over a name another folder holds on the replica. A rename moves no mail.
 * - Deletes: mailboxes that left the user's dsync state (`departed`: the source had them
 *   at one sync and no longer at a later one) and that the replica still holds, children
 *   first. And a folder that neither the source's GUIDs nor its names account for and that
 *   never held a message: dsync -1 makes such folders itself. When the source's mailbox list
 *   index is being refreshed as a client creates a folder, dsync sees that folder without its
 *   GUID and creates it on the replica under a GUID of the replica's own; once the client
 *   deletes it on the source, no state ever knew it (chaos scenario 12, measured on 2.4.1:
 *   "Couldn't open mailbox in list index: Refresh-flag set"). Any other folder made on the
 *   replica alone stays: it may hold mail that reached B alone.
 */
export async function repairReplicaFolders(
  deps: ReplicaFolderRepairDeps,
  user: string,
  departed: readonly string[],
  signal?: AbortSignal,
): Promise<ReplicaFolderRepairResult> {
  const result: ReplicaFolderRepairResult = {
    renamed: [],
    deleted: [],
    unsubscribed: [],
    blocked: [],
    settled: [],
  };
  const call = signal === undefined ? {} : { signal };
  let changes = 0;
  let onSource = new Map<string, string>();
  let onReplica = new Map<string, ReplicaFolder>();
  while (changes < MAX_CHANGES_PER_CALL) {
    [onSource, onReplica] = await Promise.all([
      namesByGuid(deps.source, user, signal),
      replicaFolders(deps.replica, user, signal),
    ]);
    const takenOnReplica = new Set([...onReplica.values()].map((folder) => folder.name));
    const apart: FolderRename[] = [];
    for (const [guid, to] of onSource) {
      const from = onReplica.get(guid)?.name;
      if (from !== undefined && from !== to) apart.push({ guid, from, to });
    }
    apart.sort((x, y) => x.to.length - y.to.length || x.to.localeCompare(y.to));
    const next = apart.find((rename) => !takenOnReplica.has(rename.to));
    result.blocked = apart.filter((rename) => takenOnReplica.has(rename.to));
    if (next === undefined) break;
    await deps.replica.mailboxRename(user, next.from, next.to, call);
    result.renamed.push(next);
    changes += 1;
  }

  const stale: FolderDelete[] = [];
  for (const guid of departed) {
    const name = onReplica.get(guid)?.name;
    if (onSource.has(guid)) continue;
    if (name === undefined) result.settled.push(guid);
    else stale.push({ guid, name });
  }
  const namesOnSource = new Set(onSource.values());
  const namesOnReplica = [...onReplica.values()].map((folder) => folder.name);
  for (const [guid, folder] of onReplica) {
    const { name, neverHeldMail } = folder;
    if (!neverHeldMail || onSource.has(guid) || namesOnSource.has(name)) continue;
    if (name.toUpperCase() === 'INBOX' || stale.some((s) => s.guid === guid)) continue;
    // A parent on the replica alone holds a child that may hold mail: left alone.
    if (namesOnReplica.some((other) => other !== name && isChildOf(other, name))) continue;
    stale.push({ guid, name });
  }
  // Children before their parents: a folder with children cannot be deleted alone.
  stale.sort((x, y) => y.name.length - x.name.length || x.name.localeCompare(y.name));
  for (const folder of stale) {
    if (changes >= MAX_CHANGES_PER_CALL) break;
    try {
      await deps.replica.mailboxDelete(user, folder.name, call);
      result.deleted.push(folder);
      result.settled.push(folder.guid);
    } catch (error: unknown) {
      if (signal?.aborted === true) throw error;
      result.blocked.push(folder);
    }
    changes += 1;
  }
  if (changes < MAX_CHANGES_PER_CALL)
    result.unsubscribed = await dropStraySubscriptions(
      deps,
      user,
      MAX_CHANGES_PER_CALL - changes,
      signal,
    );
  return result;
}

/**
 * Subscriptions on the replica that the source does not have, to names that are a folder on
 * neither server. dsync -1 leaves them on B for good: when it settles a rename conflict on B it
 * renames B's folder to a `…-temp-N` name, subscription included, and once that folder is gone
 * the subscription stays (chaos scenario 13: "L0-F188-temp-1: subscribed on B, not on A"). A
 * subscription to a folder B holds is left alone, even one A lacks: a user served by B (a
 * failover) may have made it, with the folder.
 */
async function dropStraySubscriptions(
  deps: ReplicaFolderRepairDeps,
  user: string,
  max: number,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const call = signal === undefined ? {} : { signal };
  const [subscribedOnB, subscribedOnA, foldersOnB, foldersOnA] = await Promise.all([
    deps.replica.mailboxList(user, { ...call, subscriptions: true }),
    deps.source.mailboxList(user, { ...call, subscriptions: true }),
    deps.replica.mailboxList(user, call),
    deps.source.mailboxList(user, call),
  ]);
  const keep = new Set([...subscribedOnA, ...foldersOnB, ...foldersOnA]);
  const stray = subscribedOnB.filter((name) => !keep.has(name)).slice(0, max);
  await deps.replica.mailboxUnsubscribe(user, stray, call);
  return stray;
}

/** Whether `name` is below `parent`, with either hierarchy separator doveadm may print. */
function isChildOf(name: string, parent: string): boolean {
  return name.startsWith(`${parent}/`) || name.startsWith(`${parent}.`);
}

const describeChange = (change: FolderRename | FolderDelete): string =>
  'to' in change ? `${change.from} -> ${change.to}` : `delete ${change.name}`;

/**
 * The repair after a successful sync, logged and counted. Its own failure (the replica's
 * doveadm unreachable) leaves the sync a success: the next sync that looks tries again.
 * Returns undefined on such a failure.
 */
export async function repairReplicaFoldersAfterSync(
  deps: ReplicaFolderRepairDeps,
  user: string,
  departed: readonly string[],
  log: Logger,
  metrics: Pick<WorkerMetrics, 'folderRepairs'>,
  signal: AbortSignal,
): Promise<ReplicaFolderRepairResult | undefined> {
  try {
    const result = await repairReplicaFolders(deps, user, departed, signal);
    const done = [
      ...[...result.renamed, ...result.deleted].map(describeChange),
      ...result.unsubscribed.map((name) => `unsubscribe ${name}`),
    ];
    if (result.renamed.length > 0)
      metrics.folderRepairs.inc({ result: 'renamed' }, result.renamed.length);
    if (result.deleted.length > 0)
      metrics.folderRepairs.inc({ result: 'deleted' }, result.deleted.length);
    if (result.unsubscribed.length > 0)
      metrics.folderRepairs.inc({ result: 'unsubscribed' }, result.unsubscribed.length);
    if (done.length > 0) {
      log.warn('changed folders on the replica to match the source', {
        destination: deps.destination,
        changes: done,
      });
    }
    if (result.blocked.length > 0) {
      metrics.folderRepairs.inc({ result: 'blocked' }, result.blocked.length);
      log.warn('folders on the replica differ from the source and could not be changed', {
        destination: deps.destination,
        blocked: result.blocked.map(describeChange),
      });
    }
    return result;
  } catch (error: unknown) {
    if (signal.aborted) throw error;
    metrics.folderRepairs.inc({ result: 'error' });
    log.warn('could not compare folders with the replica', {
      destination: deps.destination,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
