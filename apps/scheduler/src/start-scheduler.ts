import { Queue, Worker } from 'bullmq';
import {
  type AppContext,
  type RunningApp,
  StateKeys,
  SyncQueue,
  closeRedis,
  createRedis,
  redisAnswers,
  sourceDoveadmClient,
} from '@dovewarden/shared';
import { SchedulerMetrics } from './scheduler-metrics';
import { sweep } from './sweep';

/** How often the scheduler looks for an ingest outage to catch up from. */
const CATCH_UP_CHECK_MS = 5000;
/** NEVER RENAME: one pending catch-up sweep at a time, whoever queues it. */
const CATCH_UP_JOB_ID = 'catch-up-sweep';

/** NEVER RENAME: the job scheduler and its jobs live under these names in Redis. */
export const SCHEDULER_QUEUE = 'scheduler';
export const SWEEP_SCHEDULER_ID = 'background-sweep';
export const SWEEP_JOB = 'sweep';

/**
 * Background replication: a BullMQ job scheduler with a stable id fires a sweep every
 * BACKGROUND_REPLICATION_INTERVAL (and once at start-up). Several scheduler replicas share the
 * one scheduler entry, and its sweep job runs on one of them at a time (concurrency 1).
 */
export async function startScheduler(ctx: AppContext): Promise<RunningApp> {
  const logger = ctx.logger.child({ context: 'scheduler' });
  const { backgroundReplication: settings, namespace } = ctx.config;
  const connection = createRedis(ctx.config.redisAddr, 'worker', 'dovewarden-scheduler');
  connection.on('error', (error: Error) =>
    logger.debug('redis connection error', { error: error.message }),
  );
  const queue = new Queue(SCHEDULER_QUEUE, { connection, prefix: namespace });
  ctx.readiness.add('scheduler-redis', () => redisAnswers(connection));

  if (!settings.enabled) {
    await queue.removeJobScheduler(SWEEP_SCHEDULER_ID);
    logger.info('background replication disabled');
    return {
      name: 'scheduler',
      async stop() {
        await queue.close();
        await closeRedis(connection);
      },
    };
  }

  const doveadm = sourceDoveadmClient(ctx.config);
  const syncQueue = new SyncQueue(connection, namespace, {
    attempts: ctx.config.worker.retryAttempts,
    telemetry: ctx.telemetry,
  });
  const keys = new StateKeys(namespace);
  const metrics = new SchedulerMetrics(ctx.registry, settings.intervalMs);
  const worker = new Worker(
    SCHEDULER_QUEUE,
    async () => {
      const stopTimer = metrics.sweepSeconds.startTimer();
      const result = await sweep({
        listUsers: () => doveadm.listUsers('*'),
        redis: connection,
        keys,
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
    {
      connection,
      prefix: namespace,
      concurrency: 1,
      ...(ctx.telemetry === undefined ? {} : { telemetry: ctx.telemetry }),
    },
  );
  worker.on('failed', (_job, error) =>
    logger.warn('background sweep failed', { error: error.message }),
  );
  await queue.upsertJobScheduler(
    SWEEP_SCHEDULER_ID,
    { every: settings.intervalMs, immediately: true },
    { name: SWEEP_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
  // An ingest that could not queue events records when; sweep early instead of waiting up to
  // an interval, so that the changes whose events were lost are replicated soon.
  const catchUp = setInterval(() => {
    void (async () => {
      if ((await connection.exists(keys.outageSince)) === 0) return;
      await queue.add(
        SWEEP_JOB,
        { catchUp: true },
        { jobId: CATCH_UP_JOB_ID, removeOnComplete: true, removeOnFail: true },
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
      await syncQueue.close();
      await queue.close();
      await closeRedis(connection);
    },
  };
}
