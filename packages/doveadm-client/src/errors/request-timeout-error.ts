import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * No complete answer within the call's time limit. The request was cancelled on our side, but
 * doveadm may still finish the sync; its new state is then lost, so keep the previous one.
 */
export class RequestTimeoutError extends DoveadmError {
  override readonly name = 'RequestTimeoutError';
  readonly code = 'DOVEADM_TIMEOUT';
  readonly kind = 'temporary';
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, details: DoveadmErrorDetails = {}) {
    super(message, details);
    this.timeoutMs = timeoutMs;
  }
}
