import { DoveadmError } from './doveadm-error';
import type { HttpStatusErrorDetails } from './http-status-error-details';

/**
 * HTTP 400: doveadm could not read the request body (it answers in text/plain).
 */
export class BadRequestError extends DoveadmError {
  override readonly name = 'BadRequestError';
  readonly code = 'DOVEADM_BAD_REQUEST';
  readonly kind = 'client-bug';
  readonly status: number;
  readonly bodyPreview: string;

  constructor(message: string, details: HttpStatusErrorDetails) {
    super(message, details);
    this.status = details.status;
    this.bodyPreview = details.bodyPreview;
  }
}
