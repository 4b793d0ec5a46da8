import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * doveadm exit 76: the two dsync ends could not understand each other (usually incompatible
 * versions). A dropped connection reports 75 instead, so this one does not heal by retrying.
 */
export class RemoteProtocolError extends DoveadmError {
  override readonly name = 'RemoteProtocolError';
  readonly code = 'DOVEADM_PROTOCOL_ERROR';
  readonly kind = 'permanent';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
