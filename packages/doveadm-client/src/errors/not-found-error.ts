import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 68: something named in the request does not exist, e.g. a mailbox, or the
 * user's `mail_replica` when the default destination is used.
 */
export class NotFoundError extends DoveadmError {
  override readonly name = 'NotFoundError';
  readonly code = 'DOVEADM_NOT_FOUND';
  readonly kind = 'permanent';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
