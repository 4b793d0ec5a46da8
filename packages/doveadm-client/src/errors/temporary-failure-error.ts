import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 75: a temporary failure. Dovecot 2.4 also reports an unreachable destination
 * (down, wrong port, wrong doveadm_password on the destination) this way.
 */
export class TemporaryFailureError extends DoveadmError {
  override readonly name = 'TemporaryFailureError';
  readonly code = 'DOVEADM_TEMPORARY_FAILURE';
  readonly kind = 'temporary';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
