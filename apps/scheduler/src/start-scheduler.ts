import { Queue, Worker } from 'bullmq';
import {
  type AppContext,
  CATCH_UP_SWEEP_JOB_ID,
  JobName,
  QueueName,
  RESUME_SWEEP_JOB_ID,
  type RunningApp,
  SWEEP_SCHEDULER_ID,
  connectApp,
  createJobProcessor,
  redisAnswers,
  sourceDoveadmClient,
} from '@dovewarden/shared';
import { SchedulerMetrics } from './scheduler-metrics';
import { SWEEP_LOCK_TTL_MS, sweep } from './sweep';
import { SweepState } from './sweep-state';

/** How often the scheduler looks for an ingest outage to catch up from. */
const CATCH_UP_CHECK_MS = 5000;
/** A running sweep reports its progress (Bull Board, metrics) at most this often. */
const PROGRESS_EVERY_MS = 1000;

/**
 * How many syncs a sweep keeps waiting in the queue: a small multiple of the syncs that run at
 * once across all workers, so that the workers never run dry and Redis never holds more than
 * a few hundred background jobs, whatever the number of users.
 */
export function sweepMaxPending(setting: number | 'auto', maxParallelSyncs: number): number {
  return setting === 'auto' ? Math.max(50, 4 * maxParallelSyncs) : setting;
}

/**
 * Background replication: a BullMQ job scheduler with a stable id fires a sweep every
 * BACKGROUND_REPLICATION_INTERVAL (and once at start-up). Several scheduler replicas share the
 * one scheduler entry, and its sweep job runs on one of them at a time (concurrency 1).
 */
export async function startScheduler(ctx: AppContext): Promise<RunningApp> {
  const logger = ctx.logger.child({ context: 'scheduler' });
  const { backgroundReplication: settings, namespace } = ctx.config;
  const { redis, state, syncQueue, close } = connectApp(
    { ...ctx, logger },
    'dovewarden-scheduler',
    'wait-for-redis',
  );
  const sweepState = new SweepState(redis, state.keys);
  const queue = new Queue(QueueName.Scheduler, { connection: redis, prefix: namespace });
  ctx.readiness.add('scheduler-redis', () => redisAnswers(redis));

  if (!settings.enabled) {
    await queue.removeJobScheduler(SWEEP_SCHEDULER_ID);
    logger.info('background replication disabled');
    return {
      name: 'scheduler',
      async stop() {
        await queue.close();
        await close();
      },
    };
  }

  const doveadm = sourceDoveadmClient(ctx.config);
  const metrics = new SchedulerMetrics(ctx.registry, settings.intervalMs);
  // Stops a running sweep between batches on shutdown; the next one goes on from its cursor.
  const stopping = new AbortController();
  const processor = createJobProcessor(QueueName.Scheduler, {
    [JobName.Sweep]: async (job) => {
      const stopTimer = metrics.sweepSeconds.startTimer();
      let reportedAt = 0;
      const result = await sweep({
        listUsers: () => doveadm.listUserNames('*'),
        state,
        sweep: sweepState,
        syncQueue,
        thresholdMs: settings.thresholdMs,
        fullSyncIntervalMs: ctx.config.worker.fullSyncIntervalMs,
        destinations: ctx.config.doveadm.destinations,
        excludeUsers: settings.excludeUsers,
        unknownUserRetryMs: settings.unknownUserRetryMs,
        maxPending: sweepMaxPending(settings.maxPending, ctx.config.worker.maxParallelSyncs),
        signal: stopping.signal,
        logger,
        onProgress: async (progress) => {
          metrics.usersListed.set(progress.listed);
          metrics.usersRemaining.set(progress.remaining);
          metrics.usersQueuedThisSweep.set(progress.queued);
          const now = Date.now();
          if (now - reportedAt < PROGRESS_EVERY_MS && progress.remaining > 0) return;
          reportedAt = now;
          await job.updateProgress({
            listed: progress.listed,
            queued: progress.queued,
            remaining: progress.remaining,
          });
        },
      });
      if (result.skipped) {
        // A sweep cut short by a crash leaves its cursor and, for up to a minute, its lock.
        // Try again once the lock has expired, rather than at the next interval (up to a day).
        if ((await sweepState.readCursor()) !== undefined) {
          await queue.add(
            JobName.Sweep,
            {},
            {
              jobId: RESUME_SWEEP_JOB_ID,
              delay: SWEEP_LOCK_TTL_MS,
              removeOnComplete: true,
              removeOnFail: true,
            },
          );
        }
        return result;
      }
      metrics.usersRemaining.set(0);
      if (result.interrupted) return result;
      stopTimer();
      metrics.usersListed.set(result.listed);
      metrics.usersQueued.inc({ kind: 'stale' }, result.queued - result.queuedFull);
      metrics.usersQueued.inc({ kind: 'full' }, result.queuedFull);
      metrics.staleUsers.set(result.queued - result.queuedFull);
      metrics.lastSweep.set(Date.now() / 1000);
      return result;
    },
  });
  const worker = new Worker(QueueName.Scheduler, processor, {
    connection: redis,
    prefix: namespace,
    concurrency: 1,
    ...(ctx.telemetry === undefined ? {} : { telemetry: ctx.telemetry }),
  });
  worker.on('failed', (_job, error) =>
    logger.warn('background sweep failed', { error: error.message }),
  );
  await queue.upsertJobScheduler(
    SWEEP_SCHEDULER_ID,
    { every: settings.intervalMs, immediately: true },
    { name: JobName.Sweep, opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
  // An ingest that could not queue events records when; sweep early instead of waiting up to
  // an interval, so that the changes whose events were lost are replicated soon.
  const catchUp = setInterval(() => {
    void (async () => {
      if (!(await state.outage.exists())) return;
      await queue.add(
        JobName.Sweep,
        { catchUp: true },
        { jobId: CATCH_UP_SWEEP_JOB_ID, removeOnComplete: true, removeOnFail: true },
      );
    })().catch((error: unknown) => logger.debug('catch-up check failed', { error: String(error) }));
  }, CATCH_UP_CHECK_MS);
  catchUp.unref();
  logger.info('background replication scheduled', {
    everyMs: settings.intervalMs,
    thresholdMs: settings.thresholdMs,
  });

  return {
    name: 'scheduler',
    async stop() {
      clearInterval(catchUp);
      stopping.abort();
      await worker.close();
      await queue.close();
      await close();
    },
  };
}
