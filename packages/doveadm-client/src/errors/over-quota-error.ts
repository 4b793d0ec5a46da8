import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 73: over quota, usually on the destination. It lasts until the quota or the
 * mailbox changes, so retrying soon does not help.
 */
export class OverQuotaError extends DoveadmError {
  override readonly name = 'OverQuotaError';
  readonly code = 'DOVEADM_OVER_QUOTA';
  readonly kind = 'permanent';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
