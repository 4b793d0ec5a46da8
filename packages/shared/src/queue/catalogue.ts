import type { DefaultJobOptions } from 'bullmq';

/**
 * NEVER RENAME a value here: queue and job names are part of the Redis keys and of stored
 * jobs. Renaming one strands every job already queued under the old name.
 */
export enum QueueName {
  /** One pending sync-user job per user; the workers run them. */
  Replication = 'replication',
  /** Background replication: the job scheduler's sweeps, run by the scheduler app. */
  Scheduler = 'scheduler',
  /** The background verifier's walks over every user, run by the scheduler app. */
  Verification = 'verification',
}

/** NEVER RENAME: stored in every job, and the apps dispatch on it. */
export enum JobName {
  SyncUser = 'sync-user',
  Sweep = 'sweep',
  VerifyWalk = 'verify-walk',
}

/** The queue each job runs on. */
export const JOB_QUEUE = {
  [JobName.SyncUser]: QueueName.Replication,
  [JobName.Sweep]: QueueName.Scheduler,
  [JobName.VerifyWalk]: QueueName.Verification,
} as const satisfies Record<JobName, QueueName>;

/** The jobs that run on queue Q. */
export type JobsOn<Q extends QueueName> = {
  [K in JobName]: (typeof JOB_QUEUE)[K] extends Q ? K : never;
}[JobName];

/** The jobs of one queue, at run time (the handlers a processor of it must have). */
export function jobsOn(queue: QueueName): JobName[] {
  return Object.values(JobName).filter((name) => JOB_QUEUE[name] === queue);
}

/** NEVER RENAME: the job scheduler that fires a sweep every background interval. */
export const SWEEP_SCHEDULER_ID = 'background-sweep';
/** NEVER RENAME: the job scheduler that starts a verification walk every verify interval. */
export const VERIFY_SCHEDULER_ID = 'verification-walk';
/** NEVER RENAME: one pending catch-up sweep at a time, whoever queues it. */
export const CATCH_UP_SWEEP_JOB_ID = 'catch-up-sweep';
/** NEVER RENAME: one pending retry of a sweep cut short whose lock was still held. */
export const RESUME_SWEEP_JOB_ID = 'resume-sweep';

/** Why a sync was asked for; shown to operators and used for priorities. */
export type SyncReason =
  | { kind: 'imap'; command: string; mailbox?: string }
  | { kind: 'pop3'; command: string }
  | { kind: 'managesieve'; command: string }
  | { kind: 'delivery' }
  /** A delivery waits until its mail is on the replica (POST /sync-wait). */
  | { kind: 'sync-wait' }
  | { kind: 'event'; name: string }
  | { kind: 'background' }
  | { kind: 'manual' }
  /** The verifier found B different from A: a full sync repairs it. */
  | { kind: 'verification' };

export interface SyncUserJobData {
  user: string;
  reason: SyncReason;
  /** Ask for a full sync rather than an incremental one. */
  fullSync?: boolean;
  /**
   * Sync twice. After a RENAME Dovecot's dsync subscribes the renamed mailbox on the source
   * while it carries the rename over (seen on 2.4.1 with doveadm sync alone), so only a second
   * sync brings B's subscriptions in line.
   */
  secondPass?: boolean;
  /**
   * When the first change this job covers happened, in ms since the epoch: the event's end_time,
   * or when it was received. The worker measures replication lag from it.
   */
  requestedAt: number;
}

/** A background pass; a catch-up one follows an ingest outage (the job scheduler's has none). */
export interface SweepJobData {
  catchUp?: boolean;
}

/** A verification walk; the job scheduler's carries no data. */
export type VerifyWalkJobData = Record<string, never>;

export interface JobPayloads {
  [JobName.SyncUser]: SyncUserJobData;
  [JobName.Sweep]: SweepJobData;
  [JobName.VerifyWalk]: VerifyWalkJobData;
}

/** One member of the discriminated union of jobs: `{ name, data }` typed by name. */
export type JobOf<T extends JobName> = { name: T; data: JobPayloads[T] };
export type AnyJob = { [K in JobName]: JobOf<K> }[JobName];

/** BullMQ priorities: lower runs first. The old replicator's high/low/none, in that order. */
export enum SyncPriority {
  /**
   * A delivery waits for this sync before it answers (POST /sync-wait), above everything else:
   * BullMQ runs a job without priority (0, its waiting list) before every prioritized one.
   */
  DeliveryWait = 0,
  High = 1,
  Normal = 5,
  Low = 10,
}

/** The names operators give a priority (`--priority`, the admin API's `priority`). */
export const SYNC_PRIORITY_NAMES = ['high', 'normal', 'low'] as const;
export type SyncPriorityName = (typeof SYNC_PRIORITY_NAMES)[number];

const PRIORITY_BY_NAME: Record<SyncPriorityName, SyncPriority> = {
  high: SyncPriority.High,
  normal: SyncPriority.Normal,
  low: SyncPriority.Low,
};

/** The priority an operator named, or undefined when the name is not one of ours. */
export function syncPriorityNamed(name: string): SyncPriority | undefined {
  return (SYNC_PRIORITY_NAMES as readonly string[]).includes(name)
    ? PRIORITY_BY_NAME[name as SyncPriorityName]
    : undefined;
}

/** The operator's name of a BullMQ priority, or undefined for one we never set. */
export function syncPriorityName(priority: number): SyncPriorityName | undefined {
  return SYNC_PRIORITY_NAMES.find((name) => (PRIORITY_BY_NAME[name] as number) === priority);
}

/**
 * The deduplication id of a user's pending sync. Injective (two users never share one),
 * free of ':' (a Redis key separator that BullMQ rejects in custom ids) and never all digits
 * (BullMQ reads those as its own numeric ids), for any name Dovecot can send: '@', ':',
 * spaces, unicode, digits only, up to 255 bytes.
 */
export function userDedupId(user: string): string {
  return `u-${encodeURIComponent(user)}`;
}

export const MAX_USERNAME_BYTES = 255;

export type UsernameProblem = 'empty' | 'too-long' | 'control-characters' | 'not-a-string';

/** Returns why a username cannot be replicated, or undefined when it can. */
export function usernameProblem(user: unknown): UsernameProblem | undefined {
  if (typeof user !== 'string') return 'not-a-string';
  if (user.length === 0 || user.trim().length === 0) return 'empty';
  if (Buffer.byteLength(user, 'utf8') > MAX_USERNAME_BYTES) return 'too-long';

  if (/[\u0000-\u001f\u007f]/.test(user)) return 'control-characters';
  return undefined;
}

/**
 * NEVER RENAME: stored in every job. The worker's backoffStrategy computes it from its
 * settings (base delay doubling up to a cap, with jitter).
 */
export const SYNC_BACKOFF_TYPE = 'dovewarden-capped-exponential';

export const DEFAULT_SYNC_ATTEMPTS = 10;

/** Default options of every sync job, kept in one place. */
export const SYNC_JOB_DEFAULTS: DefaultJobOptions = {
  attempts: DEFAULT_SYNC_ATTEMPTS,
  backoff: { type: SYNC_BACKOFF_TYPE },
  removeOnComplete: { age: 3600, count: 1000 },
  // Failed jobs are what operators look at in Bull Board; keep them a week.
  removeOnFail: { age: 7 * 24 * 3600, count: 10000 },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSyncReason(value: unknown): value is SyncReason {
  if (!isObject(value)) return false;
  switch (value['kind']) {
    case 'imap':
      return (
        typeof value['command'] === 'string' &&
        (value['mailbox'] === undefined || typeof value['mailbox'] === 'string')
      );
    case 'pop3':
    case 'managesieve':
      return typeof value['command'] === 'string';
    case 'event':
      return typeof value['name'] === 'string';
    case 'delivery':
    case 'sync-wait':
    case 'background':
    case 'manual':
    case 'verification':
      return true;
    default:
      return false;
  }
}

/** Validates job data read back from Redis: it may come from an older or newer version. */
export function parseSyncUserJobData(data: unknown): SyncUserJobData | undefined {
  if (!isObject(data)) return undefined;
  if (usernameProblem(data['user']) !== undefined) return undefined;
  if (!isSyncReason(data['reason'])) return undefined;
  if (typeof data['requestedAt'] !== 'number') return undefined;
  if (data['fullSync'] !== undefined && typeof data['fullSync'] !== 'boolean') return undefined;
  if (data['secondPass'] !== undefined && typeof data['secondPass'] !== 'boolean') return undefined;
  return data as unknown as SyncUserJobData;
}

export function parseSweepJobData(data: unknown): SweepJobData | undefined {
  // The job scheduler's template carries no data: BullMQ stores {} for it.
  if (data === undefined || data === null) return {};
  if (!isObject(data)) return undefined;
  if (data['catchUp'] !== undefined && typeof data['catchUp'] !== 'boolean') return undefined;
  return data['catchUp'] === undefined ? {} : { catchUp: data['catchUp'] };
}

export function parseVerifyWalkJobData(data: unknown): VerifyWalkJobData | undefined {
  if (data === undefined || data === null) return {};
  return isObject(data) ? {} : undefined;
}

const PARSERS: { [K in JobName]: (data: unknown) => JobPayloads[K] | undefined } = {
  [JobName.SyncUser]: parseSyncUserJobData,
  [JobName.Sweep]: parseSweepJobData,
  [JobName.VerifyWalk]: parseVerifyWalkJobData,
};

/** Validates a job's data by its name; undefined when it is not what the catalogue says. */
export function parseJobData<T extends JobName>(
  name: T,
  data: unknown,
): JobPayloads[T] | undefined {
  return PARSERS[name](data);
}
