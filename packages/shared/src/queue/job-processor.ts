import { type Job, UnrecoverableError } from 'bullmq';
import {
  type JobName,
  type JobPayloads,
  type JobsOn,
  type QueueName,
  jobsOn,
  parseJobData,
} from './catalogue';

/**
 * A handler gets its job with data already checked against the catalogue, the lock token (to
 * hand the job back) and the worker's abort signal.
 */
export type JobHandler<T extends JobName> = (
  job: Job<JobPayloads[T]>,
  token: string | undefined,
  signal: AbortSignal,
) => Promise<unknown>;

/** One handler for every job of queue Q, typed by the job's payload. */
export type HandlersOf<Q extends QueueName> = { readonly [K in JobsOn<Q>]: JobHandler<K> };

/** BullMQ's processor signature; the signal is there when the worker was made with one. */
export type JobProcessor = (
  job: Job<unknown>,
  token?: string,
  signal?: AbortSignal,
) => Promise<unknown>;

const NEVER_ABORTED = new AbortController().signal;

export class JobHandlerError extends Error {
  override readonly name = 'JobHandlerError';

  constructor(
    message: string,
    readonly code: 'ERR_HANDLER_MISSING' | 'ERR_UNKNOWN_JOB',
  ) {
    super(message);
  }
}

/**
 * The BullMQ processor of one queue: one handler per job of that queue in the catalogue. It
 * throws at start-up when a handler is missing, so a job type added to the catalogue can never
 * sit in Redis with nobody to run it. Each job's data is validated before its handler runs:
 * data that does not fit (an older or newer version, a hand-made job) fails at once.
 */
export function createJobProcessor<Q extends QueueName>(
  queue: Q,
  handlers: HandlersOf<Q>,
): JobProcessor {
  // Keyed by name at run time; each handler gets only jobs of its own name (see below).
  const byName = new Map(
    Object.entries(handlers as unknown as Record<string, JobHandler<JobName>>),
  );
  const missing = jobsOn(queue).filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new JobHandlerError(
      `no handler for job(s) of queue "${queue}": ${missing.join(', ')}`,
      'ERR_HANDLER_MISSING',
    );
  }
  return async (job, token, signal) => {
    const handler = byName.get(job.name);
    if (handler === undefined) {
      throw new JobHandlerError(`no handler for job "${job.name}"`, 'ERR_UNKNOWN_JOB');
    }
    const data = parseJobData(job.name as JobName, job.data);
    if (data === undefined) {
      throw new UnrecoverableError(
        `invalid ${job.name} job data: ${JSON.stringify(job.data).slice(0, 200)}`,
      );
    }
    job.data = data;
    return handler(job as Job<JobPayloads[JobName]>, token, signal ?? NEVER_ABORTED);
  };
}
