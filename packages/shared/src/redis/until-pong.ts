import { Redis, type RedisOptions } from 'ioredis';

/**
 * Waits until a Redis server that is starting answers PING with PONG (a large AOF answers
 * LOADING until it is loaded), trying a fresh connection every `everyMs`. Rejects at `deadline`
 * (ms since the epoch), or as soon as `gaveUp` says the server is gone, with its reason.
 */
export async function untilPong(
  where: Pick<RedisOptions, 'host' | 'port' | 'path'>,
  deadline: number,
  options: { everyMs: number; gaveUp?: () => string | undefined; what: string },
): Promise<void> {
  while (Date.now() < deadline) {
    const reason = options.gaveUp?.();
    if (reason !== undefined) throw new Error(reason);
    const probe = new Redis({
      ...where,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // Not up yet.
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs));
  }
  throw new Error(`${options.what} did not answer PING in time`);
}
