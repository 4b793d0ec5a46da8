import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { Readiness, SyncQueue, buildConfig, createLogger, createRedis } from '@dovewarden/shared';
import type { SyncApi } from './replicate-user';
import { startWorker } from './start-worker';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('worker with real BullMQ and Redis', () => {
  const namespace = `dwtest-wk-${randomBytes(4).toString('hex')}`;
  const config = buildConfig(
    {
      'redis-mode': 'external',
      'redis-addr': '127.0.0.1:6379',
      namespace,
      'doveadm-password': 'unused',
      'num-workers': '4',
    },
    'worker',
  );
  const producer = createRedis(config.redisAddr, 'producer', 'test-producer');
  const syncQueue = new SyncQueue(producer, namespace);

  afterAll(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    await producer.quit();
    const cleanup = createRedis(config.redisAddr, 'worker', 'cleanup');
    const keys = await cleanup.keys(`${namespace}:*`);
    if (keys.length > 0) await cleanup.del(...keys);
    await cleanup.quit();
  });

  it('runs one more sync, and only one, for changes that arrive during a sync', async () => {
    let running = 0;
    let maxRunning = 0;
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const firstCallBlocks = new Promise<void>((resolve) => {
      release = resolve;
    });
    const doveadm: SyncApi = {
      async sync(user) {
        calls.push(user);
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        if (calls.length === 1) await firstCallBlocks;
        running -= 1;
        return { state: `s${calls.length}` };
      },
    };
    const worker = await startWorker(
      {
        config,
        logger: createLogger('error', { silent: true }),
        registry: new Registry(),
        readiness: new Readiness(),
      },
      { doveadm },
    );
    try {
      const job = () => ({
        user: 'busy@example.com',
        reason: { kind: 'manual' as const },
        requestedAt: Date.now(),
      });
      await syncQueue.enqueue(job());
      await until(() => calls.length === 1);
      // Three changes while the first sync runs: they must fold into exactly one more sync.
      await syncQueue.enqueue(job());
      await syncQueue.enqueue(job());
      await syncQueue.enqueue(job());
      release();
      await until(() => calls.length >= 2);
      await sleep(500);
      expect(calls).toEqual(['busy@example.com', 'busy@example.com']);
      expect(maxRunning).toBe(1);
    } finally {
      await worker.stop();
    }
  });
});
