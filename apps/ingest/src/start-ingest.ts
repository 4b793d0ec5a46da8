import {
  type AppContext,
  type RunningApp,
  boundPort,
  closeHttp,
  closeRedis,
  connectApp,
  createRedis,
  formatListenAddress,
  listenHttp,
  redisAnswers,
} from '@dovewarden/shared';

import { createIngestHandler } from './ingest-app';
import { OutageRecorder } from './outage-recorder';
import { IngestMetrics } from './ingest-metrics';
import { createAccessCheck } from './request-access';
import { createSyncWaitHandler } from './sync-wait/sync-wait-handler';
import { SyncWaitMetrics } from './sync-wait/sync-wait-metrics';
import { SyncWaiters } from './sync-wait/sync-waiters';

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
  const outage = new OutageRecorder(redis, state.outage, logger);

  let bound = false;
  ctx.readiness.add('ingest-listener', () => bound);
  ctx.readiness.add('ingest-redis', () => redisAnswers(redis));

  // POST /sync-wait: deliveries wait for the sync that claimed their token, which publishes it.
  const settings = ctx.config.ingest;
  const waiters = new SyncWaiters(settings.syncWait?.maxWaiters ?? 0);
  const subscriber =
    settings.syncWait === undefined
      ? undefined
      : createRedis(ctx.config.redisAddr, 'fail-fast', 'dovewarden-ingest-sync-wait');
  let subscribed = false;
  if (subscriber !== undefined) {
    const channel = state.keys.syncedWaitersChannel;
    subscriber.on('error', (error: Error) =>
      logger.debug('sync-wait subscription error', { error: error.message }),
    );
    subscriber.on('message', (_channel: string, message: string) => waiters.notify(message));
    // Subscribed again after every reconnect: a publish missed meanwhile only lets its
    // deliveries wait until their timeout, never longer.
    subscriber.on('close', () => {
      subscribed = false;
    });
    subscriber.on('ready', () => {
      subscriber.subscribe(channel).then(
        () => {
          subscribed = true;
        },
        (error: unknown) =>
          logger.warn('could not subscribe for sync-wait', { error: String(error) }),
      );
    });
  }
  const syncWait = createSyncWaitHandler({
    syncQueue,
    waiters,
    access: createAccessCheck(settings),
    ready: () => redis.status === 'ready' && subscribed,
    ledger: state.syncWaits,
    logger,
    metrics: new SyncWaitMetrics(ctx.registry, () => waiters.size),
    settings,
  });

  const handler = createIngestHandler({
    syncWait,
    ...(settings.syncWait === undefined
      ? {}
      : {
          deliveryOnReplica: (session: string, user: string) =>
            state.syncWaits.deliveryOnReplica(session, user),
        }),
    syncQueue,
    replicaService: state.replicaService,
    redisReady: () => redis.status === 'ready',
    logger,
    metrics: new IngestMetrics(ctx.registry),
    settings,
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
      // Waiting deliveries are answered at once: each holds an LMTP process on A.
      waiters.endAll();
      await closeHttp(server);
      if (subscriber !== undefined) await closeRedis(subscriber);
      await outage.stop();
      await close();
      logger.info('ingest stopped');
    },
  };
}
