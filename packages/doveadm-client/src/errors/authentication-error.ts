import { HttpStatusError } from './http-status-error';

/**
 * HTTP 401 or 403: the doveadm password or API key is wrong or missing. Every call will fail
 * the same way until an operator fixes the configuration.
 */
export class AuthenticationError extends HttpStatusError {
  override readonly name = 'AuthenticationError';
  readonly code = 'DOVEADM_AUTHENTICATION_FAILED';
  readonly kind = 'configuration';
}
