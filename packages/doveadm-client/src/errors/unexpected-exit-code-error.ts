import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * A doveadm exit code this package does not know. Treated as permanent so that nothing loops.
 */
export class UnexpectedExitCodeError extends DoveadmError {
  override readonly name = 'UnexpectedExitCodeError';
  readonly code = 'DOVEADM_UNEXPECTED_EXIT_CODE';
  readonly kind = 'permanent';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
