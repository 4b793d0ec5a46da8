import type { MissingCapability } from '../capabilities';
import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * The server's command list (`GET /doveadm/v1`) lacks a command or a parameter we send: a
 * Dovecot version or build we do not support, or a narrowed API. Found at start-up, not per user.
 */
export class UnsupportedServerError extends DoveadmError {
  override readonly name = 'UnsupportedServerError';
  readonly code = 'DOVEADM_UNSUPPORTED_SERVER';
  readonly kind = 'configuration';
  readonly missing: readonly MissingCapability[];

  constructor(
    message: string,
    missing: readonly MissingCapability[],
    details: DoveadmErrorDetails = {},
  ) {
    super(message, details);
    this.missing = missing;
  }
}
