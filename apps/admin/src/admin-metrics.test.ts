import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { SyncPriority, SyncQueue } from '@dovewarden/shared';
import { AdminMetrics, COUNT_TIMEOUT_MS, type JobCounter } from './admin-metrics';

async function byState(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('dovewarden_queue_jobs')?.get();
  return Object.fromEntries(
    (metric?.values ?? []).map((entry) => [String(entry.labels['state']), entry.value]),
  );
}

describe('dovewarden_queue_jobs', () => {
  const namespace = `dwtest-admin-metrics-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const syncQueue = new SyncQueue(redis, namespace);

  afterAll(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    const found = await redis.keys(`${namespace}:*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });

  it('counts the real queue by state; prioritized syncs are not in the wait list', async () => {
    const registry = new Registry();
    new AdminMetrics(registry, syncQueue.queue);
    expect(await byState(registry)).toEqual({
      waiting: 0,
      prioritized: 0,
      active: 0,
      delayed: 0,
      failed: 0,
    });

    for (const user of ['a@example.com', 'b@example.com', 'c@example.com']) {
      await syncQueue.enqueue(
        { user, reason: { kind: 'manual' }, requestedAt: Date.now() },
        SyncPriority.Normal,
      );
    }
    await syncQueue.queue.add('sync-user', { user: 'later' }, { delay: 60_000 });

    const counts = await byState(registry);
    expect(counts['prioritized']).toBe(3);
    expect(counts['waiting']).toBe(0);
    expect(counts['delayed']).toBe(1);
    // Why KEDA's Redis list trigger would see nothing: BullMQ keeps prioritized jobs in a zset.
    expect(await redis.llen(`${namespace}:replication:wait`)).toBe(0);
    expect(await redis.zcard(`${namespace}:replication:prioritized`)).toBe(3);
  });

  it('keeps the last values when Redis does not answer, instead of hanging the scrape', async () => {
    let answer: (counts: Record<string, number>) => Promise<Record<string, number>> = (counts) =>
      Promise.resolve(counts);
    const counter: JobCounter = {
      getJobCounts: () => answer({ waiting: 0, prioritized: 7, active: 2, delayed: 0, failed: 1 }),
    };
    const registry = new Registry();
    new AdminMetrics(registry, counter);
    expect((await byState(registry))['prioritized']).toBe(7);
    // A scrape that Redis answers at once, measured here: the reference for the slack.
    const answered: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const t0 = performance.now();
      await byState(registry);
      answered.push(performance.now() - t0);
    }
    const scrapeMs = Math.max(1, answered.sort((x, y) => x - y)[2]);

    answer = () => new Promise(() => undefined);
    const started = performance.now();
    const counts = await byState(registry);
    // The configured count timeout, plus 200 answered scrapes of slack (a few hundred ms).
    const took = performance.now() - started;
    const bound = COUNT_TIMEOUT_MS + Math.ceil(200 * scrapeMs);
    if (took >= bound) {
      throw new Error(
        `the scrape took ${Math.round(took)} ms, over ${bound} ms (${COUNT_TIMEOUT_MS} ms configured + 200 × ${scrapeMs.toFixed(1)} ms, an answered scrape)`,
      );
    }
    expect(counts).toMatchObject({ prioritized: 7, active: 2, failed: 1 });
  });
});
