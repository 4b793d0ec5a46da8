import type { DoveadmErrorKind } from './doveadm-error-kind';
import { isRetryableKind } from './doveadm-error-kind';

export interface DoveadmErrorDetails {
  /** The doveadm command the request carried, e.g. `sync`. */
  command?: string;
  /** The doveadm exit code, only when Dovecot reported one. */
  exitCode?: number;
  /**
   * The dsync state that a `sync` printed before it failed. Only the doveadm TCP protocol
   * carries it (the HTTP API drops a failed command's output); see DoveadmTcpClient.sync.
   */
  dsyncState?: string;
  cause?: unknown;
}

/**
 * Base of every error this package throws. Messages are built only from the command, the
 * user, codes and the server's answer, never from request headers, so they cannot carry the
 * doveadm password or API key.
 */
export abstract class DoveadmError extends Error {
  abstract override readonly name: string;
  abstract readonly code: string;
  abstract readonly kind: DoveadmErrorKind;
  readonly command: string | undefined;
  readonly exitCode: number | undefined;
  /** The state a failed `sync` printed, when the protocol carried it (see the details). */
  readonly dsyncState: string | undefined;

  protected constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.dsyncState = details.dsyncState;
  }

  get retryable(): boolean {
    return isRetryableKind(this.kind);
  }
}
