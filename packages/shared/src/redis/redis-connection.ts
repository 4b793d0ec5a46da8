import { Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/address';

/**
 * producer: answers fast or fails (ingest must answer Dovecot within its short timeout, and a
 *   503 right away beats a request that hangs until Dovecot gives up).
 * worker: waits for Redis to come back; BullMQ's blocking commands need maxRetriesPerRequest null.
 */
export type RedisRole = 'producer' | 'worker';

export function redisOptions(target: RedisTarget, role: RedisRole, name: string): RedisOptions {
  const common: RedisOptions = {
    host: target.host,
    port: target.port,
    username: target.username,
    password: target.password,
    db: target.db,
    connectionName: name,
    connectTimeout: 2000,
    // Reconnect forever, but never faster than every 100 ms nor slower than every 2 s.
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
    ...(target.tls ? { tls: {} } : {}),
  };
  return role === 'worker'
    ? { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true }
    : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000 };
}

export function createRedis(target: RedisTarget, role: RedisRole, name: string): Redis {
  return new Redis(redisOptions(target, role, name));
}

/** Readiness probe: true only when a PING round-trips now. */
export async function redisAnswers(redis: Redis): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/** Waits until the connection is ready, or rejects after timeoutMs. */
export function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not become ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** quit() when connected, disconnect() otherwise: quit() on a dead link waits forever. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  redis.disconnect();
}
