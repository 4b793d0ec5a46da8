import type { AbortedError } from './aborted-error';
import type { AuthenticationError } from './authentication-error';
import type { BadRequestError } from './bad-request-error';
import type { ChangedDuringSyncError } from './changed-during-sync-error';
import type { CommandNotAllowedError } from './command-not-allowed-error';
import type { CommandUsageError } from './command-usage-error';
import type { ConnectionError } from './connection-error';
import type { DoveadmInternalError } from './doveadm-internal-error';
import type { EndpointNotFoundError } from './endpoint-not-found-error';
import type { HttpServerError } from './http-server-error';
import type { InvalidArgumentError } from './invalid-argument-error';
import type { InvalidRequestError } from './invalid-request-error';
import type { NoPermissionError } from './no-permission-error';
import type { NotFoundError } from './not-found-error';
import type { NotPossibleError } from './not-possible-error';
import type { OverQuotaError } from './over-quota-error';
import type { RemoteProtocolError } from './remote-protocol-error';
import type { RequestTimeoutError } from './request-timeout-error';
import type { ServerConfigError } from './server-config-error';
import type { TemporaryFailureError } from './temporary-failure-error';
import type { UnexpectedExitCodeError } from './unexpected-exit-code-error';
import type { UnexpectedResponseError } from './unexpected-response-error';
import type { UnknownMethodError } from './unknown-method-error';
import type { UnknownUserError } from './unknown-user-error';
import type { UnsupportedServerError } from './unsupported-server-error';
import type { UserListingFailedError } from './user-listing-failed-error';

export { AbortedError } from './aborted-error';
export { AuthenticationError } from './authentication-error';
export { BadRequestError } from './bad-request-error';
export { ChangedDuringSyncError } from './changed-during-sync-error';
export { CommandNotAllowedError } from './command-not-allowed-error';
export { CommandUsageError } from './command-usage-error';
export { ConnectionError, type ConnectionFailureReason } from './connection-error';
export { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';
export { DOVEADM_ERROR_KINDS, isRetryableKind, type DoveadmErrorKind } from './doveadm-error-kind';
export { DoveadmInternalError } from './doveadm-internal-error';
export { EndpointNotFoundError } from './endpoint-not-found-error';
export { HttpServerError } from './http-server-error';
export { HttpStatusError, type HttpStatusErrorDetails } from './http-status-error';
export { InvalidArgumentError } from './invalid-argument-error';
export { InvalidRequestError } from './invalid-request-error';
export { NoPermissionError } from './no-permission-error';
export { NotFoundError } from './not-found-error';
export { NotPossibleError } from './not-possible-error';
export { OverQuotaError } from './over-quota-error';
export { RemoteProtocolError } from './remote-protocol-error';
export { RequestTimeoutError } from './request-timeout-error';
export { ServerConfigError } from './server-config-error';
export { TemporaryFailureError } from './temporary-failure-error';
export { UnexpectedExitCodeError } from './unexpected-exit-code-error';
export {
  UnexpectedResponseError,
  type UnexpectedResponseErrorDetails,
} from './unexpected-response-error';
export { UnknownMethodError } from './unknown-method-error';
export { UnknownUserError } from './unknown-user-error';
export { UnsupportedServerError } from './unsupported-server-error';
export { UserListingFailedError } from './user-listing-failed-error';

/**
 * Every error this package throws. Narrow with `instanceof DoveadmError`, then switch on
 * `kind` (what to do) or `code` (what happened); both switches can be exhaustive.
 */
export type AnyDoveadmError =
  | AbortedError
  | AuthenticationError
  | BadRequestError
  | ChangedDuringSyncError
  | CommandNotAllowedError
  | CommandUsageError
  | ConnectionError
  | DoveadmInternalError
  | EndpointNotFoundError
  | HttpServerError
  | InvalidArgumentError
  | InvalidRequestError
  | NoPermissionError
  | NotFoundError
  | NotPossibleError
  | OverQuotaError
  | RemoteProtocolError
  | RequestTimeoutError
  | ServerConfigError
  | TemporaryFailureError
  | UnexpectedExitCodeError
  | UnexpectedResponseError
  | UnknownMethodError
  | UnknownUserError
  | UnsupportedServerError
  | UserListingFailedError;

export type DoveadmErrorCode = AnyDoveadmError['code'];
