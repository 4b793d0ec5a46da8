import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { Readiness, SyncQueue, buildConfig, createLogger, createRedis } from '@dovewarden/shared';
import { FakeTree } from './__tests__/fake-tree';
import type { ReplicaFolderRepairDeps } from './replica-folder-repair';
import type { SyncApi } from './replicate-user';
import { asBound, sleep, waitUntil } from '@dovewarden/testkit';
import { startWorker } from './start-worker';

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
  const producer = createRedis(config.redisAddr, 'fail-fast', 'test-producer');
  const syncQueue = new SyncQueue(producer, namespace);

  afterAll(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    await producer.quit();
    const cleanup = createRedis(config.redisAddr, 'wait-for-redis', 'cleanup');
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
      await waitUntil(() => calls.length === 1, asBound(5000), 'calls.length === 1', 20);
      // Three changes while the first sync runs: they must fold into exactly one more sync.
      await syncQueue.enqueue(job());
      await syncQueue.enqueue(job());
      await syncQueue.enqueue(job());
      release();
      await waitUntil(() => calls.length >= 2, asBound(5000), 'calls.length >= 2', 20);
      await sleep(500);
      expect(calls).toEqual(['busy@example.com', 'busy@example.com']);
      expect(maxRunning).toBe(1);
    } finally {
      await worker.stop();
    }
  });

  it("after a sync that followed a rename, puts the source's folder names on the replica and syncs once more", async () => {
    const calls: string[] = [];
    const doveadm: SyncApi = {
      sync(user) {
        calls.push(user);
        return Promise.resolve({ state: `s${calls.length}` });
      },
    };
    const source = new FakeTree(
      new Map([
        ['INBOX', 'g0'],
        ['Proj2', 'g1'],
      ]),
    );
    const replica = new FakeTree(new Map(source.boxes));
    const registry = new Registry();
    const worker = await startWorker(
      {
        config,
        logger: createLogger('error', { silent: true }),
        registry,
        readiness: new Readiness(),
      },
      {
        doveadm,
        replicaFolders: [
          { source, replica, destination: 'imap' } as unknown as ReplicaFolderRepairDeps,
        ],
      },
    );
    const user = 'renamer@example.com';
    try {
      // The user's first sync is a full one: the trees are compared, and they match.
      await syncQueue.enqueue({ user, reason: { kind: 'manual' }, requestedAt: Date.now() });
      await waitUntil(() => calls.length === 1, asBound(5000), 'calls.length === 1', 20);
      // dsync left the folder under an old name on the replica; a plain change does not look.
      replica.boxes.delete('Proj2');
      replica.boxes.set('ProjB', 'g1');
      await syncQueue.enqueue({ user, reason: { kind: 'delivery' }, requestedAt: Date.now() });
      await waitUntil(() => calls.length === 2, asBound(5000), 'calls.length === 2', 20);
      await sleep(200);
      expect(replica.renames).toEqual([]);
      // A rename: the sync and its second pass, the repair, then one more sync.
      await syncQueue.enqueue({
        user,
        reason: { kind: 'imap', command: 'RENAME' },
        requestedAt: Date.now(),
        secondPass: true,
      });
      await waitUntil(() => calls.length === 5, asBound(5000), 'calls.length === 5', 20);
      await sleep(200);
      expect(calls).toHaveLength(5);
      expect(replica.renames).toEqual([['ProjB', 'Proj2']]);
      const metric = await registry.getSingleMetricAsString(
        'dovewarden_replica_folder_repairs_total',
      );
      expect(metric).toContain('result="renamed"} 1');
    } finally {
      await worker.stop();
    }
  });
});
