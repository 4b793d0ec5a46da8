import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 67: the user is unknown on the source or on the destination.
 */
export class UnknownUserError extends DoveadmError {
  override readonly name = 'UnknownUserError';
  readonly code = 'DOVEADM_UNKNOWN_USER';
  readonly kind = 'unknown-user';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
