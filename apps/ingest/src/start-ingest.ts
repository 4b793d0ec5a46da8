import {
  type AppContext,
  type RunningApp,
  boundPort,
  closeHttp,
  connectApp,
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
  // Fail fast: a 503 at once beats a request that hangs until Dovecot gives up.
  const { redis, state, syncQueue, close } = connectApp(
    { ...ctx, logger },
    'dovewarden-ingest',
    'fail-fast',
  );
  const outage = new OutageRecorder(redis, state, logger);

  let bound = false;
  ctx.readiness.add('ingest-listener', () => bound);
  ctx.readiness.add('ingest-redis', () => redisAnswers(redis));

  const handler = createIngestHandler({
    syncQueue,
    replicaService: state.replicaService,
    redisReady: () => redis.status === 'ready',
    logger,
    metrics: new IngestMetrics(ctx.registry),
    settings: ctx.config.ingest,
    onRedisUnavailable: (body) => outage.refused(body),
    onQueued: (body) => outage.queued(body),
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
      await outage.stop();
      await close();
      logger.info('ingest stopped');
    },
  };
}
