import type { AppContext } from './app-context';
import type { RedisTarget } from './config/address';
import {
  type RedisClient,
  type RedisRetryPolicy,
  closeRedis,
  createRedis,
} from './redis/redis-connection';
import { ReplicationState } from './replication/replication-state';
import { SyncQueue } from './queue/sync-queue';

/** What every app and operator command works with: one Redis connection and what sits on it. */
export interface AppConnection {
  readonly redis: RedisClient;
  /** Every per-user key: states, marks, requests, leases. */
  readonly state: ReplicationState;
  /** Where syncs are asked for (and, for the worker, taken from). */
  readonly syncQueue: SyncQueue;
  /** Closes the queue, then the connection (a property: callers destructure it). */
  readonly close: () => Promise<void>;
}

/**
 * Connects an app to Redis and its queues. `name` is the client name Redis shows (CLIENT LIST);
 * `retry` says what a command does while Redis is away; `target` replaces the configured Redis
 * (the operator commands' way to a running all-in-one's embedded one). Connection errors go to the debug log:
 * they surface through requests, /readyz and the apps' own logs, and without a listener Node
 * would print each one raw to stderr, outside the JSON log.
 */
export function connectApp(
  ctx: Pick<AppContext, 'config' | 'logger' | 'telemetry'>,
  name: string,
  retry: RedisRetryPolicy,
  target: RedisTarget = ctx.config.redisAddr,
): AppConnection {
  const redis = createRedis(target, retry, name);
  redis.on('error', (error: Error) =>
    ctx.logger.debug('redis connection error', { error: error.message }),
  );
  const syncQueue = new SyncQueue(redis, ctx.config.namespace, {
    attempts: ctx.config.worker.retryAttempts,
    telemetry: ctx.telemetry,
  });
  syncQueue.queue.on('error', (error: Error) =>
    ctx.logger.debug('queue connection error', { error: error.message }),
  );
  return {
    redis,
    state: new ReplicationState(redis, ctx.config.namespace),
    syncQueue,
    close: async () => {
      await syncQueue.close();
      await closeRedis(redis);
    },
  };
}
