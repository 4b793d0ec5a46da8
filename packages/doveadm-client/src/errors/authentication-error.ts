import { DoveadmError } from './doveadm-error';
import type { HttpStatusErrorDetails } from './http-status-error-details';

/**
 * HTTP 401 or 403: the doveadm password or API key is wrong or missing. Every call will fail
 * the same way until an operator fixes the configuration.
 */
export class AuthenticationError extends DoveadmError {
  override readonly name = 'AuthenticationError';
  readonly code = 'DOVEADM_AUTHENTICATION_FAILED';
  readonly kind = 'configuration';
  readonly status: number;
  readonly bodyPreview: string;

  constructor(message: string, details: HttpStatusErrorDetails) {
    super(message, details);
    this.status = details.status;
    this.bodyPreview = details.bodyPreview;
  }
}
