import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 78: Dovecot's configuration is broken or incomplete.
 */
export class ServerConfigError extends DoveadmError {
  override readonly name = 'ServerConfigError';
  readonly code = 'DOVEADM_CONFIG_ERROR';
  readonly kind = 'configuration';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
