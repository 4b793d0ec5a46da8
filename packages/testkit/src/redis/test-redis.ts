import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisTarget } from '@dovewarden/shared';

/** The machine's Redis, shared by tests that only need a unique prefix. */
export const SHARED_REDIS: RedisTarget = {
  host: '127.0.0.1',
  port: 6379,
  username: undefined,
  password: undefined,
  db: 0,
  tls: false,
};

/** A namespace no other test uses; every key the test makes lives under it. */
export function uniqueNamespace(label = 'test'): string {
  return `dwtest-${label}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under the namespace, with SCAN so it never blocks a shared server. */
export async function deleteNamespace(target: RedisTarget, namespace: string): Promise<number> {
  const redis = new Redis({
    host: target.host,
    port: target.port,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Throws a clear message when the machine's Redis is not running (never a silent skip). */
export async function assertSharedRedis(): Promise<void> {
  const redis = new Redis({
    host: SHARED_REDIS.host,
    port: SHARED_REDIS.port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error: unknown) {
    throw new Error(
      `tests need Redis at 127.0.0.1:6379 (start it with redis-server): ${String(error)}`,
    );
  } finally {
    redis.disconnect();
  }
}
