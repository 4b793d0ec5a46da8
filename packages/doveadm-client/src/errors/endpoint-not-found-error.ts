import { DoveadmError } from './doveadm-error';
import type { HttpStatusErrorDetails } from './http-status-error-details';

/**
 * HTTP 404: the URL does not lead to the doveadm API (wrong port or path prefix).
 */
export class EndpointNotFoundError extends DoveadmError {
  override readonly name = 'EndpointNotFoundError';
  readonly code = 'DOVEADM_ENDPOINT_NOT_FOUND';
  readonly kind = 'configuration';
  readonly status: number;
  readonly bodyPreview: string;

  constructor(message: string, details: HttpStatusErrorDetails) {
    super(message, details);
    this.status = details.status;
    this.bodyPreview = details.bodyPreview;
  }
}
