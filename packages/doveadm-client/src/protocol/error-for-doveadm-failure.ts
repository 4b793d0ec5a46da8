import { ChangedDuringSyncError } from '../errors/changed-during-sync-error';
import { CommandNotAllowedError } from '../errors/command-not-allowed-error';
import { CommandUsageError } from '../errors/command-usage-error';
import type { DoveadmError } from '../errors/doveadm-error';
import { DoveadmInternalError } from '../errors/doveadm-internal-error';
import { InvalidRequestError } from '../errors/invalid-request-error';
import { NoPermissionError } from '../errors/no-permission-error';
import { NotFoundError } from '../errors/not-found-error';
import { NotPossibleError } from '../errors/not-possible-error';
import { OverQuotaError } from '../errors/over-quota-error';
import { RemoteProtocolError } from '../errors/remote-protocol-error';
import { ServerConfigError } from '../errors/server-config-error';
import { TemporaryFailureError } from '../errors/temporary-failure-error';
import { UnexpectedExitCodeError } from '../errors/unexpected-exit-code-error';
import { UnexpectedResponseError } from '../errors/unexpected-response-error';
import { UnknownMethodError } from '../errors/unknown-method-error';
import { UnknownUserError } from '../errors/unknown-user-error';
import { describeRequest, type RequestContext } from '../request-context';

/** The payload of an `["error", {...}, tag]` entry. */
export interface DoveadmFailure {
  type: string;
  exitCode?: number;
}

/**
 * Maps doveadm's error entries to error classes. Exit codes are sysexits values; for a sync,
 * dsync turns storage errors into them (Dovecot's doveadm_mail_failed_error()), so 65, 68, 73
 * and 77 describe the mailbox storage of the source or destination.
 */
export function errorForDoveadmFailure(
  failure: DoveadmFailure,
  context: RequestContext,
  dsyncState?: string,
): DoveadmError {
  const about = describeRequest(context);
  const details = { command: context.command };
  switch (failure.type) {
    case 'exitCode':
      return errorForExitCode(failure.exitCode, context, dsyncState);
    case 'unknownMethod':
      return new UnknownMethodError(`${about}: the server does not know this command`, details);
    case 'unAuthorized':
      return new CommandNotAllowedError(
        `${about}: the command is not allowed by doveadm_allowed_commands`,
        details,
      );
    case 'invalidRequest':
      return new InvalidRequestError(
        `${about}: doveadm rejected the parameters (unknown name or wrong type)`,
        details,
      );
    case 'internalError':
      return new DoveadmInternalError(`${about}: doveadm reported an internal error`, details);
    default:
      return new UnexpectedResponseError(
        `${about}: unknown doveadm error type ${JSON.stringify(failure.type)}`,
        { ...details, bodyPreview: JSON.stringify(failure).slice(0, 200) },
      );
  }
}

function errorForExitCode(
  exitCode: number | undefined,
  context: RequestContext,
  dsyncState: string | undefined,
): DoveadmError {
  const about = describeRequest(context);
  const details = {
    command: context.command,
    exitCode,
    ...(dsyncState === undefined ? {} : { dsyncState }),
  };
  switch (exitCode) {
    case 2:
      return new ChangedDuringSyncError(
        `${about}: mailboxes changed during the sync; sync again (exit 2)`,
        details,
      );
    case 64:
      return new CommandUsageError(`${about}: wrong usage of the command (exit 64)`, details);
    case 65:
      return new NotPossibleError(`${about}: not possible (exit 65)`, details);
    case 67:
      return new UnknownUserError(
        `${about}: user unknown on the source or on the destination (exit 67)`,
        details,
      );
    case 68:
      return new NotFoundError(`${about}: not found (exit 68)`, details);
    case 73:
      return new OverQuotaError(`${about}: over quota (exit 73)`, details);
    case 75:
      return new TemporaryFailureError(
        `${about}: temporary failure, e.g. the destination is unreachable (exit 75)`,
        details,
      );
    case 76:
      return new RemoteProtocolError(`${about}: dsync protocol error (exit 76)`, details);
    case 77:
      return new NoPermissionError(`${about}: permission denied by the storage (exit 77)`, details);
    case 78:
      return new ServerConfigError(`${about}: Dovecot configuration error (exit 78)`, details);
    case undefined:
    default:
      return new UnexpectedExitCodeError(
        `${about}: doveadm failed with unexpected exit code ${String(exitCode)}`,
        details,
      );
  }
}
