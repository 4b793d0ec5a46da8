import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm answered `unknownMethod`: the command does not exist on this server.
 */
export class UnknownMethodError extends DoveadmError {
  override readonly name = 'UnknownMethodError';
  readonly code = 'DOVEADM_UNKNOWN_METHOD';
  readonly kind = 'client-bug';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
