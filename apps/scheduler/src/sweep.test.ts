import { SweepState } from './sweep-state';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  QueueName,
  ReplicationState,
  type StateKeys,
  SyncQueue,
  type SyncUserJobData,
  createLogger,
} from '@dovewarden/shared';
import { processStartReferenceSync, relativeBound } from '@dovewarden/testkit';
import { type SweepDeps, excludeMatcher, sweep } from './sweep';

const HOUR = 3_600_000;
const NOW = 100 * HOUR;
const DEST = 'tcp:replica:1';

describe('background sweep', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  let namespace = '';
  let state: ReplicationState;
  let keys: StateKeys;
  let syncQueue: SyncQueue;

  beforeEach(() => {
    namespace = `dwtest-sweep-${randomBytes(4).toString('hex')}`;
    state = new ReplicationState(redis, namespace);
    keys = state.keys;
    syncQueue = new SyncQueue(redis, namespace);
  });
  afterEach(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    const found = await redis.keys(`${namespace}:*`);
    if (found.length > 0) await redis.del(...found);
  });
  afterAll(() => redis.quit());

  const deps = (users: string[], extra: Partial<SweepDeps> = {}): SweepDeps => ({
    listUsers: () => Promise.resolve(users),
    state,
    sweep: new SweepState(redis, state.keys),
    syncQueue,
    thresholdMs: HOUR,
    fullSyncIntervalMs: 0,
    destinations: [DEST],
    excludeUsers: [],
    unknownUserRetryMs: 24 * HOUR,
    maxPending: Number.POSITIVE_INFINITY,
    logger: createLogger('error', { silent: true }),
    now: () => NOW,
    ...extra,
  });
  const queued = async (): Promise<Map<string, SyncUserJobData>> => {
    const jobs = (await syncQueue.queue.getJobs(
      ['prioritized', 'waiting'],
      0,
      -1,
    )) as Job<SyncUserJobData>[];
    return new Map(jobs.map((job) => [job.data.user, job.data]));
  };

  it('queues users never synced or synced before the threshold, and only those, in bulk', async () => {
    await redis.zadd(
      keys.lastSuccess,
      NOW - 2 * HOUR,
      'stale@example.com',
      NOW - 60_000,
      'fresh:user',
    );
    const users = [
      'stale@example.com',
      'fresh:user',
      'never',
      ...Array.from({ length: 2500 }, (_, i) => `bulk${i}`),
    ];
    const result = await sweep(deps(users));
    expect(result).toMatchObject({
      skipped: false,
      listed: users.length,
      queued: users.length - 1,
      queuedFull: 0,
    });
    const jobs = await queued();
    expect(jobs.has('fresh:user')).toBe(false);
    expect(jobs.get('stale@example.com')).toMatchObject({ reason: { kind: 'background' } });
    expect(jobs.size).toBe(users.length - 1);
  });

  it('marks users whose last full sync is too old for a full sync', async () => {
    await redis.zadd(keys.lastSuccess, NOW - 60_000, 'old-full', NOW - 60_000, 'new-full');
    await redis.zadd(
      keys.lastFullSyncAt(DEST),
      NOW - 30 * HOUR,
      'old-full',
      NOW - HOUR,
      'new-full',
    );
    const result = await sweep(deps(['old-full', 'new-full'], { fullSyncIntervalMs: 24 * HOUR }));
    expect(result).toMatchObject({ queued: 1, queuedFull: 1 });
    expect((await queued()).get('old-full')).toMatchObject({ fullSync: true });
  });

  it('leaves out excluded users, and unknown users until the retry time has passed', async () => {
    await redis.zadd(
      keys.unknownUsers,
      NOW - HOUR,
      'gone-recently',
      NOW - 48 * HOUR,
      'gone-long-ago',
    );
    const result = await sweep(
      deps(['keep', 'shared-mailbox', 'archive-2024', 'gone-recently', 'gone-long-ago'], {
        excludeUsers: ['shared-mailbox', 'archive-*'],
      }),
    );
    expect(result).toMatchObject({ excluded: 2, skippedUnknown: 1, queued: 2 });
    expect([...(await queued()).keys()].sort()).toEqual(['gone-long-ago', 'keep']);
  });

  it('lets only one of two overlapping sweeps run', async () => {
    let release: () => void = () => undefined;
    const slowList = new Promise<string[]>((resolve) => {
      release = () => resolve(['a', 'b']);
    });
    const first = sweep(deps([], { listUsers: () => slowList }));
    // The first sweep holds the lock before the second starts: wait for it, not a fixed time.
    while ((await redis.exists(keys.sweepLock)) === 0) await sleep(5);
    const second = await sweep(deps(['a', 'b']));
    release();
    expect(second.skipped).toBe(true);
    expect((await first).queued).toBe(2);
    expect((await queued()).size).toBe(2);
    // The lock is gone afterwards, so the next interval sweeps again.
    expect(await redis.exists(keys.sweepLock)).toBe(0);
  });

  it('catches up after an ingest outage: users not synced since it began are stale', async () => {
    await redis.zadd(
      keys.lastSuccess,
      NOW - 10 * 60_000,
      'before-outage',
      NOW - 60_000,
      'after-outage',
    );
    await redis.set(keys.outageSince, String(NOW - 5 * 60_000));
    const result = await sweep(deps(['before-outage', 'after-outage']));
    expect(result).toMatchObject({ queued: 1, catchUpSince: NOW - 5 * 60_000 });
    expect([...(await queued()).keys()]).toEqual(['before-outage']);
    expect(await redis.exists(keys.outageSince)).toBe(0);
  });

  it('feeds the queue at the pace the workers drain it, never more than maxPending waiting', async () => {
    const users = Array.from({ length: 1200 }, (_, i) => `paced${i}`);
    const worker = new Worker(QueueName.Replication, () => sleep(2), {
      connection: { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null },
      prefix: namespace,
      concurrency: 8,
    });
    let maxSeen = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        maxSeen = Math.max(maxSeen, await syncQueue.pendingCount());
        await sleep(2);
      }
    })();
    const progress: number[] = [];
    try {
      const result = await sweep(
        deps(users, {
          maxPending: 40,
          pollMs: 5,
          onProgress: ({ remaining }) => {
            progress.push(remaining);
          },
        }),
      );
      expect(result).toMatchObject({ queued: 1200, interrupted: false, resumed: false });
      expect(progress.at(-1)).toBe(0);
      expect(progress).toContain(1040); // after the first batch: 160 users (4 x maxPending)
    } finally {
      watching = false;
      await watcher;
      await worker.close();
    }
    expect(maxSeen).toBeGreaterThan(0);
    expect(maxSeen).toBeLessThanOrEqual(40);
    expect(await redis.exists(keys.sweepCursor)).toBe(0);
  });

  it('goes on from its cursor after a stop, with the same bounds, and queues each user once', async () => {
    const users = Array.from({ length: 2500 }, (_, i) => `cursor${i}`);
    const stop = new AbortController();
    const first = await sweep(
      deps(users, {
        signal: stop.signal,
        onProgress: ({ passed }) => {
          if (passed >= 1000) stop.abort();
        },
      }),
    );
    expect(first).toMatchObject({ interrupted: true, queued: 1000 });
    expect(await redis.hget(keys.sweepCursor, 'position')).toBe('1000');
    expect(await redis.hget(keys.sweepCursor, 'lastUser')).toBe('cursor999');
    // The next listing has one more user in front: the place is found by the last user passed.
    const second = await sweep(deps(['new-first', ...users], { now: () => NOW + HOUR }));
    expect(second).toMatchObject({ resumed: true, interrupted: false, queued: 2500 });
    const jobs = await queued();
    expect(jobs.size).toBe(2500);
    // The bounds and the change time are the first run's.
    expect(jobs.get('cursor2499')?.requestedAt).toBe(NOW);
    expect(await redis.exists(keys.sweepCursor)).toBe(0);
  });

  it('renews its lock while it waits for room, and stops when another replica took it', async () => {
    // The renewal (every quarter of the lock's life) must not miss three in a row: a life of 20
    // bare node starts on this machine, at least 1 s, leaves that margin on a slow one too.
    const lockTtlMs = Math.max(1000, relativeBound(processStartReferenceSync(), 20).ms);
    const result = sweep(
      deps(
        Array.from({ length: 100 }, (_, i) => `locked${i}`),
        { maxPending: 10, pollMs: 5, lockTtlMs },
      ),
    );
    // Nothing drains the queue: the sweep waits for room, renewing the lock meanwhile.
    // Unrenewed, it would be gone after one lock life.
    await sleep(lockTtlMs * 2.5);
    expect(await redis.pttl(keys.sweepLock)).toBeGreaterThan(0);
    await redis.set(keys.sweepLock, 'another-replica');
    expect(await result).toMatchObject({ interrupted: true, queued: 0 });
    expect(await redis.get(keys.sweepLock)).toBe('another-replica');
    expect(await syncQueue.pendingCount()).toBe(10);
  });
});

describe('excludeMatcher', () => {
  it('matches names exactly and * patterns case-insensitively', () => {
    const excluded = excludeMatcher(['root', '*@lists.example.com', 'test-*']);
    expect(excluded('root')).toBe(true);
    expect(excluded('rooted')).toBe(false);
    expect(excluded('announce@LISTS.example.com')).toBe(true);
    expect(excluded('test-1')).toBe(true);
    expect(excluded('a.test-1')).toBe(false);
  });
});
