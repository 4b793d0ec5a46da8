import type { Logger } from '../logging/logger';

export type ShutdownHook = () => Promise<void>;

/**
 * Runs the registered hooks once, last registered first, on SIGTERM or SIGINT: the app
 * registers "close Redis" before "stop taking work", so work stops first and Redis closes last.
 * A second signal, or a hook that hangs past the grace time, forces exit 1.
 */
export class GracefulShutdown {
  readonly #hooks: { name: string; hook: ShutdownHook }[] = [];
  #running: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly graceMs = 30_000,
  ) {}

  add(name: string, hook: ShutdownHook): void {
    this.#hooks.push({ name, hook });
  }

  get shuttingDown(): boolean {
    return this.#running !== undefined;
  }

  /** Runs every hook; a failing hook is logged and does not stop the others. */
  run(reason: string): Promise<void> {
    this.#running ??= this.#runHooks(reason);
    return this.#running;
  }

  async #runHooks(reason: string): Promise<void> {
    this.logger.info('shutting down', { reason });
    for (const { name, hook } of [...this.#hooks].reverse()) {
      try {
        await hook();
      } catch (error: unknown) {
        this.logger.error('shutdown step failed', { step: name, error });
      }
    }
    this.logger.info('shutdown complete');
  }

  /**
   * Wires SIGTERM and SIGINT to run() and then exit 0. Ctrl-C under `npm start` delivers SIGINT
   * twice at once (the terminal signals the whole group, and npm forwards it), so only a
   * signal that comes a second or more after the first one forces an exit.
   */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): void {
    let firstSignalAt = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.shuttingDown) {
        if (Date.now() - firstSignalAt < 1000) return;
        this.logger.warn('second signal during shutdown: exiting now', { signal });
        exit(1);
        return;
      }
      firstSignalAt = Date.now();
      const force = setTimeout(() => {
        this.logger.error('shutdown took too long: exiting', { graceMs: this.graceMs });
        exit(1);
      }, this.graceMs);
      force.unref();
      void this.run(signal).then(() => {
        clearTimeout(force);
        exit(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}
