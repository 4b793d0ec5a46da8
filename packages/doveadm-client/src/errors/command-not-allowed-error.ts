import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm answered `unAuthorized`: the command is not in `doveadm_allowed_commands`.
 */
export class CommandNotAllowedError extends DoveadmError {
  override readonly name = 'CommandNotAllowedError';
  readonly code = 'DOVEADM_COMMAND_NOT_ALLOWED';
  readonly kind = 'configuration';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
