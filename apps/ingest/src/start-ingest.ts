import {
  type AppContext,
  type RunningApp,
  StateKeys,
  SyncQueue,
  boundPort,
  closeHttp,
  closeRedis,
  createRedis,
  formatListenAddress,
  listenHttp,
  redisAnswers,
} from '@dovewarden/shared';

import { createIngestHandler } from './ingest-app';
import { OutageRecorder } from './outage-recorder';
import { IngestMetrics } from './ingest-metrics';

export interface RunningIngest extends RunningApp {
  readonly port: number;
}

/** Binds POST /events on HTTP_ADDR. Readiness: the listener is bound and Redis answers. */
export async function startIngest(ctx: AppContext): Promise<RunningIngest> {
  const logger = ctx.logger.child({ context: 'ingest' });
  const redis = createRedis(ctx.config.redisAddr, 'producer', 'dovewarden-ingest');
  // Errors surface through requests and /readyz; without a listener ioredis would log each one.
  redis.on('error', (error: Error) =>
    logger.debug('redis connection error', { error: error.message }),
  );
  const keys = new StateKeys(ctx.config.namespace);
  const outage = new OutageRecorder(redis, keys.outageSince, logger);
  const syncQueue = new SyncQueue(redis, ctx.config.namespace, {
    attempts: ctx.config.worker.retryAttempts,
    telemetry: ctx.telemetry,
  });
  syncQueue.queue.on('error', (error: Error) =>
    logger.debug('queue error', { error: error.message }),
  );

  let bound = false;
  ctx.readiness.add('ingest-listener', () => bound);
  ctx.readiness.add('ingest-redis', () => redisAnswers(redis));

  const handler = createIngestHandler({
    syncQueue,
    redisReady: () => redis.status === 'ready',
    logger,
    metrics: new IngestMetrics(ctx.registry),
    settings: ctx.config.ingest,
    onRedisUnavailable: () => outage.started(),
  });
  const server = await listenHttp(handler, ctx.config.httpAddr);
  bound = true;
  const port = boundPort(server);
  logger.info('ingest listening', { addr: formatListenAddress(ctx.config.httpAddr), port });

  return {
    name: 'ingest',
    port,
    async stop() {
      bound = false;
      await closeHttp(server);
      await syncQueue.close();
      await closeRedis(redis);
      logger.info('ingest stopped');
    },
  };
}
