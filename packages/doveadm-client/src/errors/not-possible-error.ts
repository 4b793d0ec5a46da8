import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 65: Dovecot judged the operation impossible (invalid or unconvertible data, a
 * name that already exists, a storage limit). Retrying unchanged gives the same answer.
 */
export class NotPossibleError extends DoveadmError {
  override readonly name = 'NotPossibleError';
  readonly code = 'DOVEADM_NOT_POSSIBLE';
  readonly kind = 'permanent';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
