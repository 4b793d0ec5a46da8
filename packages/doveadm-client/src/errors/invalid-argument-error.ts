import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * Thrown before anything is sent, for arguments that would make doveadm misbehave: an empty
 * `destination`, for instance, kills the doveadm process and no HTTP answer ever comes.
 */
export class InvalidArgumentError extends DoveadmError {
  override readonly name = 'InvalidArgumentError';
  readonly code = 'DOVEADM_INVALID_ARGUMENT';
  readonly kind = 'client-bug';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
