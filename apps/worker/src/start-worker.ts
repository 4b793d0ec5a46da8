import { Worker } from 'bullmq';
import { DoveadmClient } from '@dovewarden/doveadm-client';
import {
  type AppContext,
  JobName,
  QueueName,
  type RunningApp,
  StateKeys,
  closeRedis,
  createRedis,
  redisAnswers,
  registerSecretValue,
} from '@dovewarden/shared';
import { JobHandlers } from './job-handlers';
import type { SyncApi } from './replicate-user';
import { createSyncUserHandler } from './sync-user-handler';
import { WorkerMetrics } from './worker-metrics';

export interface WorkerOptions {
  /** Replaces the Doveadm HTTP client, for tests. */
  doveadm?: SyncApi;
  /** How long stop() lets in-flight syncs finish before it aborts them and hands them back. */
  drainMs?: number;
}

function createDoveadm(ctx: AppContext): DoveadmClient {
  const { password, apiKey, url } = ctx.config.doveadm;
  if (password !== undefined) registerSecretValue(password.reveal());
  if (apiKey !== undefined) registerSecretValue(apiKey.reveal());
  return new DoveadmClient({
    url,
    ...(password === undefined ? {} : { password: password.reveal() }),
    ...(apiKey === undefined ? {} : { apiKey: apiKey.reveal() }),
  });
}

/** Runs NUM_WORKERS syncs at once from the replication queue. */
export async function startWorker(
  ctx: AppContext,
  options: WorkerOptions = {},
): Promise<RunningApp> {
  const logger = ctx.logger.child({ context: 'worker' });
  const connection = createRedis(ctx.config.redisAddr, 'worker', 'dovewarden-worker');
  connection.on('error', (error: Error) =>
    logger.debug('redis connection error', { error: error.message }),
  );
  const doveadm = options.doveadm ?? createDoveadm(ctx);
  const metrics = new WorkerMetrics(ctx.registry);
  const shutdown = new AbortController();

  const handlers = new JobHandlers().register(
    JobName.SyncUser,
    createSyncUserHandler({
      doveadm,
      redis: connection,
      keys: new StateKeys(ctx.config.namespace),
      destination: ctx.config.doveadm.destination,
      logger,
      metrics,
      stopping: () => shutdown.signal.aborted,
    }),
  );
  handlers.assertComplete();

  const worker = new Worker(
    QueueName.Replication,
    (job, token, signal) =>
      handlers.dispatch(
        job,
        token,
        signal === undefined ? shutdown.signal : AbortSignal.any([signal, shutdown.signal]),
      ),
    {
      connection,
      prefix: ctx.config.namespace,
      concurrency: ctx.config.numWorkers,
    },
  );
  worker.on('error', (error: Error) => logger.warn('worker error', { error: error.message }));
  ctx.readiness.add('worker-redis', () => redisAnswers(connection));
  ctx.readiness.add('worker-running', () => worker.isRunning());
  await worker.waitUntilReady();
  logger.info('worker started', {
    concurrency: ctx.config.numWorkers,
    destination: ctx.config.doveadm.destination,
  });

  return {
    name: 'worker',
    async stop() {
      const drainMs = options.drainMs ?? 20_000;
      // Let running syncs finish; past the drain time abort them, and they are handed back.
      const abortTimer = setTimeout(() => shutdown.abort(), drainMs);
      await worker.close();
      clearTimeout(abortTimer);
      shutdown.abort();
      await closeRedis(connection);
      logger.info('worker stopped');
    },
  };
}
