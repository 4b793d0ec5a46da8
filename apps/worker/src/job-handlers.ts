import type { Job } from 'bullmq';
import { JobName } from '@dovewarden/shared';

/** A handler gets the BullMQ job (data still unvalidated) and the worker's abort signal. */
export type JobHandler = (
  job: Job<unknown>,
  token: string | undefined,
  signal: AbortSignal,
) => Promise<unknown>;

export class JobHandlerError extends Error {
  override readonly name = 'JobHandlerError';

  constructor(
    message: string,
    readonly code: 'ERR_HANDLER_MISSING' | 'ERR_HANDLER_DUPLICATE' | 'ERR_UNKNOWN_JOB',
  ) {
    super(message);
  }
}

/**
 * One handler per job name. Start-up fails on a missing or duplicate handler, so a job type
 * added to the catalogue can never sit in Redis with nobody to run it.
 */
export class JobHandlers {
  readonly #handlers = new Map<string, JobHandler>();

  register(name: JobName, handler: JobHandler): this {
    if (this.#handlers.has(name)) {
      throw new JobHandlerError(
        `two handlers registered for job "${name}"`,
        'ERR_HANDLER_DUPLICATE',
      );
    }
    this.#handlers.set(name, handler);
    return this;
  }

  assertComplete(): void {
    const missing = Object.values(JobName).filter((name) => !this.#handlers.has(name));
    if (missing.length > 0) {
      throw new JobHandlerError(
        `no handler for job(s): ${missing.join(', ')}`,
        'ERR_HANDLER_MISSING',
      );
    }
  }

  dispatch(job: Job<unknown>, token: string | undefined, signal: AbortSignal): Promise<unknown> {
    const handler = this.#handlers.get(job.name);
    if (handler === undefined) {
      throw new JobHandlerError(`no handler for job "${job.name}"`, 'ERR_UNKNOWN_JOB');
    }
    return handler(job, token, signal);
  }
}
