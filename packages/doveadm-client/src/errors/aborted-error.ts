import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * The caller's AbortSignal fired. As with a timeout, doveadm may still complete the work, so a
 * sync's previous state stays the one to use.
 */
export class AbortedError extends DoveadmError {
  override readonly name = 'AbortedError';
  readonly code = 'DOVEADM_ABORTED';
  readonly kind = 'aborted';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
