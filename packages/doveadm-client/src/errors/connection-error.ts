import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * - `refused`: nothing listens at the doveadm URL.
 * - `closed-without-response`: the connection closed before any HTTP answer. Dovecot 2.3 does
 *   this when the sync destination is down, and both versions do it when the doveadm process
 *   dies on a request it cannot handle.
 * - `reset`: the peer reset the connection while we were sending.
 * - `response-truncated`: the answer stopped before its announced end.
 * - `unreachable`: name resolution or routing failed.
 */
export type ConnectionFailureReason =
  'refused' | 'closed-without-response' | 'reset' | 'response-truncated' | 'unreachable';

/** The HTTP exchange with doveadm failed below HTTP. Temporary: retry with backoff. */
export class ConnectionError extends DoveadmError {
  override readonly name = 'ConnectionError';
  readonly code = 'DOVEADM_CONNECTION_FAILED';
  readonly kind = 'temporary';
  readonly reason: ConnectionFailureReason;

  constructor(message: string, reason: ConnectionFailureReason, details: DoveadmErrorDetails = {}) {
    super(message, details);
    this.reason = reason;
  }
}
