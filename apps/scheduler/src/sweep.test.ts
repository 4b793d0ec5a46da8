import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { StateKeys, SyncQueue, createLogger } from '@dovewarden/shared';
import { sweep } from './sweep';

describe('background sweep', () => {
  const namespace = `dwtest-sweep-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const keys = new StateKeys(namespace);
  const syncQueue = new SyncQueue(redis, namespace);

  afterAll(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    const found = await redis.keys(`${namespace}:*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });

  it('queues users never synced or synced before the threshold, and only those', async () => {
    const now = 10_000_000;
    const hour = 3_600_000;
    await redis.zadd(
      keys.lastSuccess,
      now - 2 * hour,
      'stale@example.com',
      now - 60_000,
      'fresh:user',
    );
    const users = [
      'stale@example.com',
      'fresh:user',
      'never',
      ...Array.from({ length: 2500 }, (_, i) => `bulk${i}`),
    ];
    const result = await sweep({
      listUsers: () => Promise.resolve(users),
      redis,
      keys,
      syncQueue,
      thresholdMs: hour,
      logger: createLogger('error', { silent: true }),
      now: () => now,
    });
    expect(result).toEqual({ listed: users.length, queued: users.length - 1 });
    const jobs = await syncQueue.queue.getJobs(['prioritized', 'waiting'], 0, -1);
    const queued = new Set(jobs.map((job) => (job.data as { user: string }).user));
    expect(queued.has('fresh:user')).toBe(false);
    expect(queued.has('stale@example.com')).toBe(true);
    expect(queued.has('never')).toBe(true);
    expect(queued.size).toBe(users.length - 1);
    expect(jobs[0].data).toMatchObject({ reason: { kind: 'background' } });
  });
});
