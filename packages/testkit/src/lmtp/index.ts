export {
  deliverLmtp,
  deliverLmtpTimed,
  encodeData,
  type DeliverOptions,
  type LmtpEndpoint,
  type TimedLmtpDelivery,
} from './deliver-lmtp';
export { LmtpConnection, type LmtpReply } from './lmtp-connection';
export { LmtpError, type LmtpErrorCode } from './lmtp-error';
