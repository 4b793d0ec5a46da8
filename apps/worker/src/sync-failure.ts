import { DoveadmError } from '@dovewarden/doveadm-client';
import { DestinationsFailedError, SyncKeepsChangingError } from './replicate-user';
import type { SyncOutcome } from './worker-metrics';

/** What a failed sync was, as metrics, logs and the user's status name it. */
export interface SyncFailureKind {
  /** What the sync threw. */
  error: unknown;
  /** The failure that decides what happens to the job (the first destination's). */
  primary: unknown;
  outcome: SyncOutcome;
  exitCode: number | undefined;
  code: string;
  message: string;
  /** An unknown user, or a request doveadm can never accept (a client bug): no retry helps. */
  permanent: boolean;
}

function outcomeOf(error: unknown): SyncOutcome {
  if (error instanceof SyncKeepsChangingError) return 'changed';
  if (!(error instanceof DoveadmError)) return 'error';
  switch (error.kind) {
    case 'changed-during-sync':
      return 'changed';
    case 'temporary':
      return 'temporary';
    case 'unknown-user':
      return 'unknown-user';
    case 'configuration':
      return 'configuration';
    case 'client-bug':
    case 'permanent':
      return 'permanent';
    case 'aborted':
      return 'aborted';
  }
}

/**
 * Classifies a failed sync. A dsync that fails on storage (exit 65, 68, 76 or an unknown code)
 * has usually met a change on A mid-sync, a mailbox deleted or renamed under it: the next sync
 * passes, so it is not permanent, as with the old replicator. A lock timeout (exit 75: another
 * dsync of this user still runs on the server) is not either. Only an unknown user, or a
 * request doveadm can never accept, is.
 */
export function classifySyncFailure(error: unknown): SyncFailureKind {
  const primary = error instanceof DestinationsFailedError ? error.primary : error;
  const outcome = outcomeOf(primary);
  const known = primary instanceof DoveadmError || primary instanceof SyncKeepsChangingError;
  return {
    error,
    primary,
    outcome,
    exitCode: known ? primary.exitCode : undefined,
    code: known ? primary.code : 'ERR_UNEXPECTED',
    message: error instanceof Error ? error.message : String(error),
    permanent:
      outcome === 'unknown-user' ||
      (primary instanceof DoveadmError && primary.kind === 'client-bug'),
  };
}

/** `CODE (exit N): message`, as the gate's reason and a permanent failure's message. */
export function describeSyncFailure(failure: SyncFailureKind): string {
  return `${failure.code}${failure.exitCode === undefined ? '' : ` (exit ${failure.exitCode})`}: ${failure.message}`;
}
