import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm answered `invalidRequest`: a parameter name or type it does not accept.
 */
export class InvalidRequestError extends DoveadmError {
  override readonly name = 'InvalidRequestError';
  readonly code = 'DOVEADM_INVALID_REQUEST';
  readonly kind = 'client-bug';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
