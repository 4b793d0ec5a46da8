import { HttpStatusError } from './http-status-error';

/**
 * HTTP 404: the URL does not lead to the doveadm API (wrong port or path prefix).
 */
export class EndpointNotFoundError extends HttpStatusError {
  override readonly name = 'EndpointNotFoundError';
  readonly code = 'DOVEADM_ENDPOINT_NOT_FOUND';
  readonly kind = 'configuration';
}
