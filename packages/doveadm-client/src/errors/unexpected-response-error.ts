import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

export interface UnexpectedResponseErrorDetails extends DoveadmErrorDetails {
  /** The HTTP status, when an HTTP answer came at all. */
  status?: number;
  /** The first 200 bytes of the answer, decoded as UTF-8. */
  bodyPreview: string;
}

/**
 * An answer this package cannot make sense of: not JSON, the wrong shape, no entry for our tag,
 * an unusual HTTP status. Classified permanent because retrying the same request against the
 * same server would only repeat it; the body preview tells an operator what answered instead.
 */
export class UnexpectedResponseError extends DoveadmError {
  override readonly name = 'UnexpectedResponseError';
  readonly code = 'DOVEADM_UNEXPECTED_RESPONSE';
  readonly kind = 'permanent';
  readonly status: number | undefined;
  readonly bodyPreview: string;

  constructor(message: string, details: UnexpectedResponseErrorDetails) {
    super(message, details);
    this.status = details.status;
    this.bodyPreview = details.bodyPreview;
  }
}
