import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 2: the sync ran, but mailboxes changed while it ran. This is not a failure: sync
 * again soon. dsync prints a new state for it, made to be reused; the HTTP API drops it, the
 * doveadm TCP protocol returns it (`dsyncState`).
 */
export class ChangedDuringSyncError extends DoveadmError {
  override readonly name = 'ChangedDuringSyncError';
  readonly code = 'DOVEADM_CHANGED_DURING_SYNC';
  readonly kind = 'changed-during-sync';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
