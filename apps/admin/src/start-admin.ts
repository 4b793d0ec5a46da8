import { Queue } from 'bullmq';
import {
  type AppContext,
  OperatorActions,
  QueueName,
  type RunningApp,
  boundPort,
  closeHttp,
  connectApp,
  formatListenAddress,
  listenHttp,
  redisAnswers,
} from '@dovewarden/shared';
import { createAdminApp } from './admin-app';
import { AdminMetrics } from './admin-metrics';

export interface RunningAdmin extends RunningApp {
  readonly port: number;
}

/**
 * Bull Board and the admin API on ADMIN_ADDR, on its own port, apart from the ingest hot path.
 * Without DOVEWARDEN_ADMIN_PASSWORD (only allowed in all-in-one mode) it binds to 127.0.0.1.
 */
export async function startAdmin(ctx: AppContext): Promise<RunningAdmin> {
  const logger = ctx.logger.child({ context: 'admin' });
  const {
    redis: connection,
    state,
    syncQueue,
    close,
  } = connectApp({ ...ctx, logger }, 'dovewarden-admin', 'wait-for-redis');
  // Bull Board shows every queue of the catalogue; the replication one is the SyncQueue's.
  const queues = Object.values(QueueName)
    .filter((name) => name !== QueueName.Replication)
    .map((name) => new Queue(name, { connection, prefix: ctx.config.namespace }));
  new AdminMetrics(ctx.registry, syncQueue.queue);
  const password = ctx.config.admin.password?.reveal();
  const app = createAdminApp({
    queues: [syncQueue.queue, ...queues],
    actions: new OperatorActions(state, syncQueue, ctx.config.doveadm.destinations),
    thresholdMs: ctx.config.backgroundReplication.thresholdMs,
    auth: password === undefined ? undefined : { user: ctx.config.admin.user, password },
    readOnly: ctx.config.admin.readOnly,
  });
  const address =
    password === undefined
      ? { host: '127.0.0.1', port: ctx.config.adminAddr.port }
      : ctx.config.adminAddr;
  let bound = false;
  ctx.readiness.add('admin-listener', () => bound);
  ctx.readiness.add('admin-redis', () => redisAnswers(connection));
  const server = await listenHttp(app, address);
  bound = true;
  if (password === undefined) {
    logger.warn(
      'admin UI has no password: bound to 127.0.0.1 only (set DOVEWARDEN_ADMIN_PASSWORD)',
      {
        addr: formatListenAddress(address),
      },
    );
  } else {
    logger.info('admin UI listening', {
      addr: formatListenAddress(address),
      readOnly: ctx.config.admin.readOnly,
    });
  }
  return {
    name: 'admin',
    port: boundPort(server),
    async stop() {
      await closeHttp(server, 2000);
      await Promise.all(queues.map((queue) => queue.close()));
      await close();
    },
  };
}
