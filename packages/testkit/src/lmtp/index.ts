export { deliverLmtp, encodeData, type DeliverOptions, type LmtpEndpoint } from './deliver-lmtp';
export { LmtpConnection, type LmtpReply } from './lmtp-connection';
export { LmtpError, type LmtpErrorCode } from './lmtp-error';
