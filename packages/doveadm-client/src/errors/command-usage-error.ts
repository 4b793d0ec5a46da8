import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 64: wrong usage of the command, e.g. an unknown namespace.
 */
export class CommandUsageError extends DoveadmError {
  override readonly name = 'CommandUsageError';
  readonly code = 'DOVEADM_USAGE';
  readonly kind = 'client-bug';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
