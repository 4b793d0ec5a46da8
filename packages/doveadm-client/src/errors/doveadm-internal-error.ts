import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm answered `internalError`: the server failed on its side, much like an HTTP 5xx.
 */
export class DoveadmInternalError extends DoveadmError {
  override readonly name = 'DoveadmInternalError';
  readonly code = 'DOVEADM_INTERNAL_ERROR';
  readonly kind = 'temporary';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
