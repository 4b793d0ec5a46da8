/**
 * A background sweep at 10,000, 100,000 and 1,000,000 users (--quick: 10,000 and 100,000):
 * users listed by a fake doveadm over HTTP through the real client, last-success times in the
 * real Redis (127.0.0.1:6379, throwaway namespace), and every stale user queued for real.
 * Half the users are fresh (synced a minute ago) and half stale, as after a quiet hour.
 * Reports duration, Redis commands and round trips, peak RSS, and Redis memory per known user.
 * Writes bench/results/sweep.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DoveadmClient } from '@dovewarden/doveadm-client';
import { ReplicationState, SyncQueue, createLogger, createRedis } from '@dovewarden/shared';
import { SweepState, sweep } from '@dovewarden/scheduler';
import { FakeDoveadm, SHARED_REDIS, deleteNamespace, uniqueNamespace } from '@dovewarden/testkit';
import { Redis } from 'ioredis';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
const PASSWORD = 'bench-sweep';

async function info(redis: Redis, field: string, section: string): Promise<number> {
  const text = await redis.info(section);
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

async function run(size: number): Promise<Record<string, number>> {
  const namespace = uniqueNamespace('bench-sweep');
  const users = Array.from({ length: size }, (_, i) => `user${i}@example.com`);
  const fake = await FakeDoveadm.start({ password: PASSWORD, users });
  const redis = new Redis({
    host: SHARED_REDIS.host,
    port: SHARED_REDIS.port,
    maxRetriesPerRequest: null,
  });
  const producer = createRedis(SHARED_REDIS, 'wait-for-redis', 'bench-sweep');
  const syncQueue = new SyncQueue(producer, namespace);
  const state = new ReplicationState(redis, namespace);
  const { keys } = state;
  try {
    const now = Date.now();
    const memoryBefore = await info(redis, 'used_memory', 'memory');
    // Half fresh, half stale: what a sweep an hour after the last one meets.
    for (let start = 0; start < size; start += 10_000) {
      const args: (string | number)[] = [];
      for (let i = start; i < Math.min(size, start + 10_000); i += 1)
        args.push(i % 2 === 0 ? now - 60_000 : now - 48 * 3600_000, users[i]);
      await redis.zadd(keys.lastSuccess, ...args);
    }
    const memoryKnown = await info(redis, 'used_memory', 'memory');
    const commandsBefore = await info(redis, 'total_commands_processed', 'stats');
    const client = new DoveadmClient({ url: fake.url, password: PASSWORD });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    const started = performance.now();
    const result = await sweep({
      listUsers: () => client.listUsers('*'),
      state,
      sweep: new SweepState(redis, state.keys),
      syncQueue,
      thresholdMs: 24 * 3600_000,
      fullSyncIntervalMs: 0,
      destinations: ['tcp:replica:1'],
      excludeUsers: [],
      unknownUserRetryMs: 24 * 3600_000,
      // The sweep's own cost: nothing drains the queue here, so no pacing (background.bench
      // measures the paced sweep with real workers).
      maxPending: Number.POSITIVE_INFINITY,
      logger: createLogger('error', { silent: true }),
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    client.close();
    const commands = (await info(redis, 'total_commands_processed', 'stats')) - commandsBefore;
    const memoryQueued = await info(redis, 'used_memory', 'memory');
    const batches = Math.ceil(size / 1000);
    return {
      users: size,
      queued: result.queued,
      seconds: Math.round(seconds * 100) / 100,
      usersPerSecond: Math.round(size / seconds),
      redisCommands: commands,
      // Per batch: one pipelined ZMSCORE pair and one bulk add; plus lock, outage check, unlock.
      roundTrips: batches * 2 + 3,
      peakRssMiB: Math.round(peakRss / 1048576),
      redisBytesPerKnownUser: Math.round((memoryKnown - memoryBefore) / size),
      redisBytesPerQueuedJob: Math.round((memoryQueued - memoryKnown) / Math.max(1, result.queued)),
    };
  } finally {
    await syncQueue.queue.obliterate({ force: true }).catch(() => undefined);
    await syncQueue.close();
    await producer.quit();
    await redis.quit();
    await fake.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
  }
}

async function main(): Promise<void> {
  const rows: Record<string, number>[] = [];
  for (const size of SIZES) {
    const row = await run(size);
    rows.push(row);
    console.error(`[sweep] ${size} users: ${row['seconds']} s`);
  }
  console.log(
    `\nsweep benchmark (${quick ? 'quick' : 'full'}; ${os.cpus().length} CPUs, ${process.version})`,
  );
  console.log(
    '| users | queued | seconds | users/s | Redis commands | round trips | peak RSS MiB | Redis B/known user | Redis B/queued job |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r['users']} | ${r['queued']} | ${r['seconds']} | ${r['usersPerSecond']} | ${r['redisCommands']} | ${r['roundTrips']} | ${r['peakRssMiB']} | ${r['redisBytesPerKnownUser']} | ${r['redisBytesPerQueuedJob']} |`,
    );
  }
  const outDir = path.join(__dirname, '..', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(
    path.join(outDir, 'sweep.json'),
    `${JSON.stringify({ quick, rows }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
