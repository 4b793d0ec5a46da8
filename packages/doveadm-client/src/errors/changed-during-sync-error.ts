import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 2: the sync ran, but mailboxes changed while it ran. This is not a failure.
 * Dovecot discards the new state in this case, so keep the previous state and sync again soon.
 */
export class ChangedDuringSyncError extends DoveadmError {
  override readonly name = 'ChangedDuringSyncError';
  readonly code = 'DOVEADM_CHANGED_DURING_SYNC';
  readonly kind = 'changed-during-sync';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
