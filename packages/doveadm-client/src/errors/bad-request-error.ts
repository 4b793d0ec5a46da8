import { HttpStatusError } from './http-status-error';

/**
 * HTTP 400: doveadm could not read the request body (it answers in text/plain).
 */
export class BadRequestError extends HttpStatusError {
  override readonly name = 'BadRequestError';
  readonly code = 'DOVEADM_BAD_REQUEST';
  readonly kind = 'client-bug';
}
