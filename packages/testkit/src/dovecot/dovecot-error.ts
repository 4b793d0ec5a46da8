export type DovecotErrorCode =
  | 'DOVECOT_UNAVAILABLE'
  | 'DOVECOT_START_FAILED'
  | 'DOVECOT_STOP_FAILED'
  | 'DOVEADM_FAILED'
  | 'INVALID_OPTIONS';

/** Every failure of the Dovecot harness, so a test can tell set-up trouble from a real bug. */
export class DovecotError extends Error {
  override readonly name = 'DovecotError';

  /** The exit code of the failed command, for DOVEADM_FAILED (2 = "changed during sync, run again"). */
  readonly exitCode: number | null;

  constructor(
    readonly code: DovecotErrorCode,
    message: string,
    options: { cause?: unknown; exitCode?: number | null } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode ?? null;
  }
}
