import { DoveadmError } from './doveadm-error';
import type { HttpStatusErrorDetails } from './http-status-error-details';

/**
 * HTTP 5xx from doveadm or from a proxy in front of it. Temporary.
 */
export class HttpServerError extends DoveadmError {
  override readonly name = 'HttpServerError';
  readonly code = 'DOVEADM_HTTP_SERVER_ERROR';
  readonly kind = 'temporary';
  readonly status: number;
  readonly bodyPreview: string;

  constructor(message: string, details: HttpStatusErrorDetails) {
    super(message, details);
    this.status = details.status;
    this.bodyPreview = details.bodyPreview;
  }
}
