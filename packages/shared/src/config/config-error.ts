/** A bad or missing setting. The CLI prints `message` as one line and exits 1, without a stack. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG';

  constructor(
    message: string,
    readonly option?: string,
  ) {
    super(message);
  }
}
