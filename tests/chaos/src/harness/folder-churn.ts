import { type ScenarioOutcome, relativeBound, runScenario } from './scenario';

/**
 * Folder churn (scenarios 12 and 13): IMAP clients rename, fill (APPEND) and delete their own
 * folders as fast as A answers while syncs run. No step may fail on A, A must hold exactly the
 * folders and counts the clients left, and B must converge. dsync -1 alone can leave a renamed
 * or deleted folder apart on B for good; the worker's replica folder repair finishes those
 * changes there (docs/reliability.md).
 */
export function runFolderChurn(options: {
  name: string;
  users: number;
  connectionsPerUser: number;
}): Promise<ScenarioOutcome> {
  const clients =
    options.connectionsPerUser === 1
      ? `${options.users} IMAP clients`
      : `${options.users} users × ${options.connectionsPerUser} IMAP clients`;
  return runScenario({
    name: options.name,
    cluster: { users: options.users },
    load: {
      connectionsPerUser: options.connectionsPerUser,
      closedLoop: true,
      // Folder work only, most of it renames and appends into the lane's own folders.
      weights: {
        append: 4,
        deliver: 0,
        flag: 0,
        expunge: 0,
        copy: 0,
        move: 0,
        create: 2,
        rename: 3,
        delete: 1,
      },
      inboxAppendShare: 0,
    },
    loadMs: 15_000,
    // Every step is its own IMAP round trip: far more than the rate-driven scenarios' 5/s.
    minChangesPerSecond: 20,
    convergeWithin: (cal) => relativeBound(cal, 4),
    notes: `${clients}, closed loop; no step may fail on A and A must hold exactly the folders (and counts) the clients left`,
  });
}
