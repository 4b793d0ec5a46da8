import type { DoveadmErrorDetails } from './doveadm-error';
import { DoveadmError } from './doveadm-error';

export interface HttpStatusErrorDetails extends DoveadmErrorDetails {
  status: number;
  /** The first 200 bytes of the answer, decoded as UTF-8, to make the log line useful. */
  bodyPreview: string;
}

/**
 * An HTTP answer other than 200 from the doveadm API (or a proxy in front of it): its status and
 * the start of its body, whatever the class says it means.
 */
export abstract class HttpStatusError extends DoveadmError {
  readonly status: number;
  readonly bodyPreview: string;

  constructor(message: string, details: HttpStatusErrorDetails) {
    super(message, details);
    this.status = details.status;
    this.bodyPreview = details.bodyPreview;
  }
}
