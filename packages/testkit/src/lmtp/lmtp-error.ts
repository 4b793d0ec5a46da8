export type LmtpErrorCode = 'LMTP_REJECTED' | 'LMTP_CONNECTION_FAILED' | 'LMTP_TIMEOUT';

/** A failed delivery; `stage` names the command the server refused, `reply` is its full answer. */
export class LmtpError extends Error {
  override readonly name = 'LmtpError';

  constructor(
    readonly code: LmtpErrorCode,
    message: string,
    readonly stage: string,
    readonly reply: string | null = null,
  ) {
    super(message);
  }
}
