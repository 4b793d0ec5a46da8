import type { DoveadmErrorDetails } from './doveadm-error';

export interface HttpStatusErrorDetails extends DoveadmErrorDetails {
  status: number;
  /** The first 200 bytes of the answer, decoded as UTF-8, to make the log line useful. */
  bodyPreview: string;
}
