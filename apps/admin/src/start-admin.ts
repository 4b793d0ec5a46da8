import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express from 'express';
import {
  type AppContext,
  QueueName,
  type RunningApp,
  boundPort,
  closeHttp,
  closeRedis,
  createRedis,
  formatListenAddress,
  listenHttp,
} from '@dovewarden/shared';

/**
 * Bull Board on ADMIN_ADDR. Until admin authentication exists, the board is read-only and
 * bound to 127.0.0.1 whatever host ADMIN_ADDR names, so it cannot be reached from elsewhere.
 */
export interface RunningAdmin extends RunningApp {
  readonly port: number;
}

export async function startAdmin(ctx: AppContext): Promise<RunningAdmin> {
  const logger = ctx.logger.child({ context: 'admin' });
  const connection = createRedis(ctx.config.redisAddr, 'worker', 'dovewarden-admin');
  connection.on('error', (error: Error) =>
    logger.debug('redis connection error', { error: error.message }),
  );
  const queues = Object.values(QueueName).map(
    (name) => new Queue(name, { connection, prefix: ctx.config.namespace }),
  );
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/');
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'dovewarden' } },
  });
  const app = express();
  app.disable('x-powered-by');
  app.use('/', serverAdapter.getRouter() as express.Router);
  const address = { host: '127.0.0.1', port: ctx.config.adminAddr.port };
  const server = await listenHttp(app, address);
  logger.warn('admin UI is read-only and bound to 127.0.0.1 until authentication is configured', {
    addr: formatListenAddress(address),
  });
  return {
    name: 'admin',
    port: boundPort(server),
    async stop() {
      await closeHttp(server, 2000);
      await Promise.all(queues.map((queue) => queue.close()));
      await closeRedis(connection);
    },
  };
}
