import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 77: the storage refused access (file permissions, mail_uid). An operator must fix
 * it; every user on that storage will fail alike.
 */
export class NoPermissionError extends DoveadmError {
  override readonly name = 'NoPermissionError';
  readonly code = 'DOVEADM_NO_PERMISSION';
  readonly kind = 'configuration';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
