import { DoveadmError } from '@dovewarden/doveadm-client';
import {
  DEFAULT_STATE_TTL_MS,
  type DsyncParameters,
  type Logger,
  type ReplicationState,
  type SyncUserJobData,
} from '@dovewarden/shared';
import { departedMailboxes, mailboxGuidsOfState } from './dsync-state';
import { planDestination } from './sync-plan';
import { SyncRecord } from './sync-record';

/** The part of the doveadm client a sync needs; tests hand in a fake. */
export interface SyncApi {
  sync(
    user: string,
    options: DsyncParameters & {
      destination: string;
      state: string;
      fullSync?: boolean;
      signal?: AbortSignal;
    },
  ): Promise<{ state: string }>;
}

export interface ReplicateDeps {
  doveadm: SyncApi;
  /** Sent with every sync: one-way or two-way, dsync's user lock, namespaces. */
  dsync: DsyncParameters;
  /**
   * The user's dsync states and marks: read before the runs; written once, at the sync's end
   * (SyncRecord), never by a run.
   */
  state: ReplicationState;
  destinations: readonly string[];
  logger: Logger;
  now?: () => number;
  /** How long a stored dsync state lives without a successful sync refreshing it. */
  stateTtlMs?: number;
  /** Full sync when the last full sync to a destination is older than this; 0: never by age. */
  fullSyncIntervalMs?: number;
  /**
   * The source's mailbox GUIDs now (one-way mode with the folder repair on). Read after a run
   * that failed or must run again: see DestinationSyncStart.sourceAtFailure.
   */
  sourceMailboxes?: (user: string, signal?: AbortSignal) => Promise<string[]>;
}

/**
 * Exit 2 means "synced, but mailboxes changed meanwhile": the run moved data, but Dovecot
 * discarded its state. Run again at once a few times, as full syncs (the stored state no longer
 * says what B holds, see replicateTo); a mailbox that is busy settles quickly.
 * After that the handler hands the job back with a growing delay (see sync-user-handler): a
 * user whose mail keeps changing is synced until a run completes, never looped on, and never
 * marked failed for it.
 */
export const MAX_CHANGED_DURING_SYNC_RETRIES = 3;

export interface DestinationOutcome {
  destination: string;
  fullSync: boolean;
  /** Syncs run, exit 2 re-runs included. */
  runs: number;
  incremental: boolean;
  /** Mailboxes the source deleted that the replica may still hold: the folder repair's work. */
  departedMailboxes: string[];
}

export interface ReplicateOutcome {
  destinations: DestinationOutcome[];
  fullSync: boolean;
  runs: number;
  /**
   * The backup mode synced this user one-way instead: the replica served it (since this ms), and
   * a backup would destroy what it holds alone. Undefined otherwise.
   */
  heldForFailbackSince?: number;
}

/**
 * What runs for this user: the configured mode, except that `backup` turns into a one-way sync
 * for a user the replica served, until its failback (see ReplicaServiceLedger).
 */
async function dsyncFor(
  deps: ReplicateDeps,
  user: string,
): Promise<{ dsync: DsyncParameters; heldSince?: number }> {
  if (!deps.dsync.backup) return { dsync: deps.dsync };
  const heldSince = await deps.state.replicaService.servedSince(user);
  if (heldSince === undefined) return { dsync: deps.dsync };
  return { dsync: { ...deps.dsync, backup: false, onewaySync: true }, heldSince };
}

export class SyncKeepsChangingError extends Error {
  override readonly name = 'SyncKeepsChangingError';
  readonly code = 'ERR_SYNC_KEEPS_CHANGING';
  readonly exitCode = 2;

  constructor(
    user: string,
    readonly runs: number,
  ) {
    super(
      `doveadm sync for ${user} returned exit 2 (mailboxes changed during the sync) ${runs} times in a row; syncing again shortly`,
    );
  }
}

/** Some destinations failed; the others were replicated and keep their new state. */
export class DestinationsFailedError extends Error {
  override readonly name = 'DestinationsFailedError';
  readonly code = 'ERR_DESTINATIONS_FAILED';

  constructor(readonly failures: readonly { destination: string; error: unknown }[]) {
    super(
      failures
        .map(
          ({ destination, error }) =>
            `${destination}: ${error instanceof Error ? error.message : String(error)}`,
        )
        .join('; '),
    );
  }

  /** The failure that decides what happens to the job: the first one. */
  get primary(): unknown {
    return this.failures[0]?.error;
  }
}

function isChangedDuringSync(error: unknown): boolean {
  return error instanceof DoveadmError && error.kind === 'changed-during-sync';
}

function isAborted(error: unknown): boolean {
  return error instanceof DoveadmError && error.kind === 'aborted';
}

async function replicateTo(
  deps: ReplicateDeps,
  dsync: DsyncParameters,
  job: SyncUserJobData,
  destination: string,
  signal: AbortSignal | undefined,
  record: SyncRecord,
): Promise<DestinationOutcome> {
  const now = deps.now ?? Date.now;
  const stateTtlMs = deps.stateTtlMs ?? DEFAULT_STATE_TTL_MS;
  // Read with the call's in-flight mark unless this sync read it already (in the claim's round
  // trip, or an earlier run of this sync: then updated in memory by that run's success).
  let start = record.startOf(destination);
  if (start === undefined) {
    start = await deps.state.destinations.start(destination, job.user, now(), stateTtlMs);
    record.began(destination, start);
  }
  // The policy, pure (sync-plan.ts): full when asked, when the full-sync interval has passed
  // (what an incremental sync cannot see), or when the stored state is suspect.
  const plan = planDestination(job, start, now(), deps.fullSyncIntervalMs ?? 0);
  let fullSync = plan.fullSync;
  /** What the next run starts from: the stored state, or the one an exit 2 printed. */
  let storedState = start.storedState ?? '';
  /** The state an exit 2 printed, to be stored if the call ends in a failure. */
  let progress: string | undefined;
  let runs = 0;
  /** An exit 2 in this call: its run may have changed B, and its new state was discarded. */
  let stateLost = false;
  // The source's mailboxes at runs that failed or ran again: such a run may have made them on
  // the replica while no stored state knows them; once the source deletes them, dsync -1 keeps
  // them there as the replica's own. The next successful state tells which are gone.
  // Listed once per failed run; kept in Redis only when this call ends without a new state.
  const atFailure = new Set(start.sourceAtFailure);
  /** Keeps what was listed beside the failed run (see listBeside), then lists the source now. */
  const listSourceMailboxes = async (beside: Promise<string[]> | undefined): Promise<void> => {
    if (deps.sourceMailboxes === undefined) return;
    for (const guid of (await beside) ?? []) atFailure.add(guid);
    try {
      for (const guid of await deps.sourceMailboxes(job.user, signal)) atFailure.add(guid);
    } catch (error: unknown) {
      deps.logger.debug('could not list the source mailboxes after a failed sync', {
        user: job.user,
        error: String(error),
      });
    }
  };

  // The source's mailboxes as a run starts, listed beside it when the run is likely to lose its
  // state as well: after one that did (a busy user), or after an abandoned call. A folder that
  // the run copies to B and the source deletes before the listing after the run is otherwise in
  // no listing and no state, and stays on B for good (chaos scenario 12). An extra call to the
  // source, so only for such runs.
  const listBeside = (): Promise<string[]> | undefined =>
    deps.sourceMailboxes !== undefined && (stateLost || start.suspect)
      ? deps.sourceMailboxes(job.user, signal).catch(() => [])
      : undefined;

  for (;;) {
    runs += 1;
    const beside = listBeside();
    // Dovecot returns no state unless one is sent, so the first sync sends "".
    const sentState = fullSync ? '' : storedState;
    const callStartedAt = now();
    try {
      const result = await deps.doveadm.sync(job.user, {
        ...dsync,
        destination,
        state: sentState,
        fullSync,
        ...(signal === undefined ? {} : { signal }),
      });
      const inState = mailboxGuidsOfState(result.state);
      const departed = [
        ...new Set([
          ...departedMailboxes(start.storedState, result.state),
          // Only with a state that reads: an unreadable one would make every mailbox departed.
          ...(inState.size === 0 ? [] : [...atFailure].filter((guid) => !inState.has(guid))),
        ]),
      ];
      const synced = { state: result.state, fullSync, departed, finishedAt: now() };
      record.synced({ destination, user: job.user, synced, stateTtlMs });
      return {
        destination,
        fullSync,
        runs,
        incremental: !fullSync && storedState !== '',
        departedMailboxes: [...new Set([...start.departedBefore, ...departed])],
      };
    } catch (error: unknown) {
      if (!isChangedDuringSync(error)) {
        // doveadm answered with an exit code: its dsync is over. Anything else (a timeout, an
        // abort, a broken connection) leaves the in-flight mark for the next sync.
        if (error instanceof DoveadmError && error.exitCode !== undefined) {
          const mayHaveChangedReplica =
            error.kind !== 'unknown-user' &&
            error.kind !== 'configuration' &&
            !endedBeforeAnyWork(error, sentState, now() - callStartedAt, dsync.lockTimeout);
          if (mayHaveChangedReplica) await listSourceMailboxes(beside);
          record.answered({
            destination,
            user: job.user,
            ...(progress === undefined ? {} : { progress }),
            sourceAtFailure: mayHaveChangedReplica ? [...atFailure] : [],
            stateTtlMs,
            // Or an exit 2 earlier in this call: its state was lost as well. Or the stored
            // state was suspect already (an abandoned call before this one): a failed call
            // settles nothing.
            replicaMayBeAhead: mayHaveChangedReplica || stateLost || start.suspect,
          });
        }
        throw error;
      }
      const printed = error instanceof DoveadmError ? error.dsyncState : undefined;
      if (printed !== undefined && printed !== '') {
        // dsync's own answer to exit 2: the state it printed is made to be reused (it covers
        // what this run did, conservatively), so the next run is incremental from it. Only the
        // doveadm TCP protocol returns it. Kept for the record of a failed call: the next sync
        // must not go back to an older state than B holds. (A crash before the record leaves
        // the call's in-flight mark, and the next sync is a full one.)
        storedState = printed;
        progress = printed;
        fullSync = false;
      } else {
        // The run changed B, but Doveadm's HTTP API discards the new state of an exit 2, so
        // the stored state is now older than what B holds. Run from it again and dsync -1
        // takes B's copies of messages that A expunged meanwhile for B's own mail: it keeps
        // them, moves them to new UIDs past A's UIDNEXT, and from then on every new message of
        // A gets another UID on B than on A, for good (measured on 2.4.1:
        // tests/e2e/src/lost-state.test.ts). A full sync matches both sides through A's
        // expunge records instead.
        fullSync = true;
        stateLost = true;
        await listSourceMailboxes(beside);
      }
      if (runs <= MAX_CHANGED_DURING_SYNC_RETRIES) {
        deps.logger.debug('mailboxes changed during sync; running again', {
          user: job.user,
          destination,
          runs,
          from: fullSync ? 'nothing (full sync)' : 'the state it printed',
        });
        continue;
      }
      // Every run was answered. A run whose state did not come back may have changed B beyond
      // the stored state; with every state kept, the user is just busy.
      record.answered({
        destination,
        user: job.user,
        ...(progress === undefined ? {} : { progress }),
        sourceAtFailure: [...atFailure],
        stateTtlMs,
        replicaMayBeAhead: stateLost,
      });
      throw new SyncKeepsChangingError(job.user, runs);
    }
  }
}

/**
 * A failure that dsync reported before it did any work, so the destination is as it was: a
 * lock timeout. dsync takes the user lock before it touches a mailbox, waits the whole
 * `lockTimeout` for it, and then ends with exit 75 and prints the state it was given, unchanged
 * (measured on 2.4.1 over the doveadm TCP protocol). The unchanged state alone does not tell:
 * `backup` also ends in exit 75 with the state it was given after it deleted a mailbox of B's
 * to copy it again (tests/e2e/src/dsync-modes.test.ts), so the call must also have lasted the
 * lock wait (less a second: dsync counts it in whole seconds). Over HTTP nothing printed comes
 * back, so this cannot be known there and the run counts as one that may have changed B.
 */
function endedBeforeAnyWork(
  error: DoveadmError,
  sentState: string,
  elapsedMs: number,
  lockTimeoutSeconds: number,
): boolean {
  return (
    error.kind === 'temporary' &&
    error.exitCode === 75 &&
    error.dsyncState === sentState &&
    elapsedMs >= (lockTimeoutSeconds - 1) * 1000
  );
}

/**
 * Runs the user's dsync to every destination, from what each starts from. One replica being
 * down does not stop the others: each destination is tried, and only then does a failure fail
 * the job. The runs write nothing: what they did goes into `record`, which the caller stores
 * once the sync as a whole has ended (syncUser, or replicateAndRecord).
 */
export async function replicateUser(
  deps: ReplicateDeps,
  job: SyncUserJobData,
  record: SyncRecord,
  signal?: AbortSignal,
): Promise<ReplicateOutcome> {
  const outcomes: DestinationOutcome[] = [];
  const failures: { destination: string; error: unknown }[] = [];
  const { dsync, heldSince } = await dsyncFor(deps, job.user);
  if (heldSince !== undefined) {
    deps.logger.warn(
      'the replica served this user: synced one-way, not backed up, until dovewarden failback',
      { user: job.user, servedSince: new Date(heldSince).toISOString() },
    );
  }
  for (const destination of deps.destinations) {
    try {
      outcomes.push(await replicateTo(deps, dsync, job, destination, signal, record));
    } catch (error: unknown) {
      // Shutting down: hand the job back now rather than start the next destination.
      if (isAborted(error) || signal?.aborted === true) throw error;
      failures.push({ destination, error });
    }
  }
  if (failures.length > 0) {
    if (failures.length === 1 && deps.destinations.length === 1) throw failures[0]?.error;
    throw new DestinationsFailedError(failures);
  }
  return {
    destinations: outcomes,
    fullSync: outcomes.some((outcome) => outcome.fullSync),
    runs: outcomes.reduce((sum, outcome) => sum + outcome.runs, 0),
    ...(heldSince === undefined ? {} : { heldForFailbackSince: heldSince }),
  };
}

/**
 * One sync of a user outside a worker's job (failback, a verifier's repair; tests): the runs,
 * then their record, as syncUser does it. On success the user's marks too; on failure what the
 * runs did is stored and the error thrown.
 */
export async function replicateAndRecord(
  deps: ReplicateDeps,
  job: SyncUserJobData,
  signal?: AbortSignal,
): Promise<ReplicateOutcome> {
  const record = new SyncRecord(job.user);
  let outcome: ReplicateOutcome;
  try {
    outcome = await replicateUser(deps, job, record, signal);
  } catch (error: unknown) {
    await record.storeFailure(deps.state, deps.logger);
    throw error;
  }
  await record.storeSuccess(deps.state, {
    finishedAt: (deps.now ?? Date.now)(),
    fullSync: outcome.fullSync,
  });
  return outcome;
}
