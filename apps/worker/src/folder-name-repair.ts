import type { DoveadmClient } from '@dovewarden/doveadm-client';
import type { Logger, ReplicaMailboxes } from '@dovewarden/shared';
import type { WorkerMetrics } from './worker-metrics';

/** What the repair reads on both servers and changes on the replica. */
export interface FolderNameRepairDeps {
  source: Pick<DoveadmClient, 'mailboxStatus'>;
  /** The replica's Doveadm API, or its doveadm service (the dsync destination). */
  replica: Pick<ReplicaMailboxes, 'mailboxStatus' | 'mailboxRename'>;
}

/** One folder known to both servers by its GUID, under two names. */
export interface FolderRename {
  guid: string;
  /** Its name on the replica. */
  from: string;
  /** Its name on the source. */
  to: string;
}

export interface FolderNameRepairResult {
  renamed: FolderRename[];
  /** Left as they are: the source's name is taken on the replica by another folder. */
  blocked: FolderRename[];
}

/**
 * Renames on one call at most this many folders; the next rename event or full sync goes on.
 * Each rename re-reads both trees, because renaming a parent moves its children too.
 */
const MAX_RENAMES_PER_CALL = 20;

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
 * dsync -1 settles a folder's name as a two-way sync does, by whole-second rename timestamps,
 * and then drops the renames it meant for the source. When the replica's name wins (a folder
 * renamed on A twice within a second, while a sync ran), the replica keeps the old name for
 * good: every later sync, full ones included, makes the same decision (measured on 2.4.1, see
 * docs/reliability.md). This puts the source's names on the replica, through the replica's
 * Doveadm API or doveadm service: a rename never touches a message, nothing is written to A.
 * Folders are matched by mailbox GUID, the shortest source name first (parents before their
 * children). A folder whose source name another folder holds on the replica is left alone.
 */
export async function repairFolderNames(
  deps: FolderNameRepairDeps,
  user: string,
  signal?: AbortSignal,
): Promise<FolderNameRepairResult> {
  const renamed: FolderRename[] = [];
  let blocked: FolderRename[] = [];
  while (renamed.length < MAX_RENAMES_PER_CALL) {
    const [onSource, onReplica] = await Promise.all([
      namesByGuid(deps.source, user, signal),
      namesByGuid(deps.replica, user, signal),
    ]);
    const takenOnReplica = new Set(onReplica.values());
    const apart: FolderRename[] = [];
    for (const [guid, to] of onSource) {
      const from = onReplica.get(guid);
      if (from !== undefined && from !== to) apart.push({ guid, from, to });
    }
    apart.sort((x, y) => x.to.length - y.to.length || x.to.localeCompare(y.to));
    const next = apart.find((rename) => !takenOnReplica.has(rename.to));
    blocked = apart.filter((rename) => takenOnReplica.has(rename.to));
    if (next === undefined) break;
    await deps.replica.mailboxRename(
      user,
      next.from,
      next.to,
      signal === undefined ? {} : { signal },
    );
    renamed.push(next);
  }
  return { renamed, blocked };
}

/**
 * The repair after a successful sync, logged and counted; true when it renamed anything. Its
 * own failure (the replica's API down) leaves the sync a success: the names are repaired after
 * the next rename or full sync.
 */
export async function repairFolderNamesAfterSync(
  deps: FolderNameRepairDeps,
  user: string,
  log: Logger,
  metrics: Pick<WorkerMetrics, 'folderNameRepairs'>,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    const { renamed, blocked } = await repairFolderNames(deps, user, signal);
    if (renamed.length > 0) {
      metrics.folderNameRepairs.inc({ result: 'renamed' }, renamed.length);
      log.warn('renamed folders on the replica to their names on the source', {
        renamed: renamed.map(({ from, to }) => `${from} -> ${to}`),
      });
    }
    if (blocked.length > 0) {
      metrics.folderNameRepairs.inc({ result: 'blocked' }, blocked.length);
      log.warn('folders named differently on the replica; their names there are taken', {
        blocked: blocked.map(({ from, to }) => `${from} -> ${to}`),
      });
    }
    return renamed.length > 0;
  } catch (error: unknown) {
    if (signal.aborted) throw error;
    metrics.folderNameRepairs.inc({ result: 'error' });
    log.warn('could not compare folder names with the replica', {
      error: error instanceof Error ? error.message : String(error),
    });
    return false;
  }
}
