import { Queue, Worker } from 'bullmq';
import {
  type AppContext,
  CATCH_UP_SWEEP_JOB_ID,
  JobName,
  QueueName,
  type RunningApp,
  SWEEP_SCHEDULER_ID,
  connectApp,
  createJobProcessor,
  redisAnswers,
  sourceDoveadmClient,
} from '@dovewarden/shared';
import { SchedulerMetrics } from './scheduler-metrics';
import { sweep } from './sweep';

/** How often the scheduler looks for an ingest outage to catch up from. */
const CATCH_UP_CHECK_MS = 5000;

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
  const processor = createJobProcessor(QueueName.Scheduler, {
    [JobName.Sweep]: async () => {
      const stopTimer = metrics.sweepSeconds.startTimer();
      const result = await sweep({
        listUsers: () => doveadm.listUsers('*'),
        state,
        syncQueue,
        thresholdMs: settings.thresholdMs,
        fullSyncIntervalMs: ctx.config.worker.fullSyncIntervalMs,
        destinations: ctx.config.doveadm.destinations,
        excludeUsers: settings.excludeUsers,
        unknownUserRetryMs: settings.unknownUserRetryMs,
        logger,
      });
      if (result.skipped) return result;
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
      if (!(await state.hasOutage())) return;
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
      await worker.close();
      await queue.close();
      await close();
    },
  };
}
