import { HttpStatusError } from './http-status-error';

/**
 * HTTP 5xx from doveadm or from a proxy in front of it. Temporary.
 */
export class HttpServerError extends HttpStatusError {
  override readonly name = 'HttpServerError';
  readonly code = 'DOVEADM_HTTP_SERVER_ERROR';
  readonly kind = 'temporary';
}
