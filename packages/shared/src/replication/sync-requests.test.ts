import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import fc from 'fast-check';
import { QueueName, SyncPriority, type SyncUserJobData } from '../queue/catalogue';
import { StateKeys } from './state-keys';
import { SyncQueue } from '../queue/sync-queue';
import { type MergedSyncRequest, SyncRequests } from './sync-requests';
import { ReplicationState } from './replication-state';
import { UserLease } from './user-lease';

interface Request {
  fullSync: boolean;
  secondPass: boolean;
  priority: SyncPriority;
  requestedAt: number;
}

const requestArbitrary: fc.Arbitrary<Request> = fc.record({
  fullSync: fc.boolean(),
  secondPass: fc.boolean(),
  priority: fc.constantFrom(SyncPriority.High, SyncPriority.Normal, SyncPriority.Low),
  requestedAt: fc.integer({ min: 1_000_000, max: 2_000_000 }),
});

const plain: Request = {
  fullSync: false,
  secondPass: false,
  priority: SyncPriority.Normal,
  requestedAt: 0,
};

/** What merging must keep, whatever the order: computed here without Redis. */
function expected(requests: readonly Request[]): MergedSyncRequest {
  return {
    fullSync: requests.some((r) => r.fullSync),
    secondPass: requests.some((r) => r.secondPass),
    requestedAt: Math.min(...requests.map((r) => r.requestedAt)),
    priority: Math.min(...requests.map((r) => r.priority)),
  };
}

function dataOf(user: string, request: Request): SyncUserJobData {
  return {
    user,
    reason: { kind: 'manual' },
    requestedAt: request.requestedAt,
    ...(request.fullSync ? { fullSync: true } : {}),
    ...(request.secondPass ? { secondPass: true } : {}),
  };
}

describe('SyncRequests: merging never loses a request (real Redis, real BullMQ)', () => {
  const namespace = `dwtest-requests-${randomBytes(4).toString('hex')}`;
  const keys = new StateKeys(namespace);
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const queue = new SyncQueue(redis, namespace);
  const requests = new SyncRequests(redis, keys);
  // A worker without a processor: the test moves jobs to active and completes them by hand.
  const workerConnection = redis.duplicate();
  const worker = new Worker(QueueName.Replication, null, {
    connection: workerConnection,
    prefix: namespace,
    autorun: false,
  });
  let users = 0;
  const nextUser = () => `merge-user-${(users += 1)}`;

  const sessions = new ReplicationState(redis, namespace).sessions;
  const held = new Map<string, UserLease>();

  /** Takes the user's lease and claims, as the worker does (SyncSessions.claim). */
  async function claim(user: string, data: SyncUserJobData) {
    const { lease, request } = await sessions.claim(data, 60_000, () => undefined);
    if (lease === undefined) throw new Error(`the lease of ${user} is held`);
    held.set(lease.token, lease);
    return { claimed: request, lease: keys.lease(user), token: lease.token };
  }

  /** A successful sync's end, as the worker records it (SyncSessions.recordSynced). */
  async function settle(user: string, _lease: string, token: string): Promise<void> {
    const lease = held.get(token) ?? UserLease.candidate(redis, keys.lease(user));
    await sessions.recordSynced(user, { finishedAt: 1, fullSync: false }, lease);
  }

  async function takeNextJob(): Promise<{ job: Job; token: string }> {
    const token = randomBytes(8).toString('hex');
    // block: false, so an empty queue fails the test rather than hanging it.
    const job = (await worker.getNextJob(token, { block: false })) as Job | undefined;
    if (job === undefined) throw new Error('no job to take');
    return { job, token };
  }

  afterAll(async () => {
    await worker.close();
    await workerConnection.quit();
    await queue.queue.obliterate({ force: true });
    await queue.close();
    const left = await redis.keys(`${namespace}:*`);
    if (left.length > 0) await redis.del(...left);
    await redis.quit();
  });

  it('a request merged into a waiting job: the sync that runs gets the merge of all of them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArbitrary, { minLength: 2, maxLength: 6 }), async (list) => {
        const user = nextUser();
        for (const request of list) await queue.enqueue(dataOf(user, request), request.priority);
        const { job, token } = await takeNextJob();
        const data = job.data as SyncUserJobData;
        expect(data.user).toBe(user);
        // BullMQ keeps the first request's data on a merge; the claim holds the rest.
        const { claimed, lease, token: leaseToken } = await claim(user, data);
        const want = expected(list);
        expect({ ...claimed, changedStreak: undefined }).toEqual({
          ...want,
          changedStreak: undefined,
        });
        // The waiting job was raised to the highest priority asked for.
        expect(job.priority).toBe(want.priority);
        await settle(user, lease, leaseToken);
        await job.moveToCompleted('done', token, false);
        expect(await redis.exists(keys.claimedSyncRequest(user))).toBe(0);
      }),
      { numRuns: 15 },
    );
  });

  it('requests during a running sync: the follow-up job carries the merge of those alone', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(requestArbitrary, { minLength: 1, maxLength: 3 }),
        fc.array(requestArbitrary, { minLength: 1, maxLength: 5 }),
        async (before, during) => {
          const user = nextUser();
          for (const request of before)
            await queue.enqueue(dataOf(user, request), request.priority);
          const { job, token } = await takeNextJob();
          const first = await claim(user, job.data as SyncUserJobData);
          expect(first.claimed).toMatchObject(expected(before));
          // keepLastIfActive: BullMQ keeps only the last of these as the next job's data.
          for (const request of during)
            await queue.enqueue(dataOf(user, request), request.priority);
          await settle(user, first.lease, first.token);
          await job.moveToCompleted('done', token, false);

          const next = await takeNextJob();
          const data = next.job.data as SyncUserJobData;
          const want = expected(during);
          // The follow-up job itself carries what decides how and when it runs: full sync,
          // second pass, priority. The earliest change time comes with its claim (below).
          expect({
            fullSync: data.fullSync === true,
            secondPass: data.secondPass === true,
            priority: next.job.priority,
          }).toEqual({
            fullSync: want.fullSync,
            secondPass: want.secondPass,
            priority: want.priority,
          });
          const second = await claim(user, data);
          expect(second.claimed).toMatchObject(want);
          await settle(user, second.lease, second.token);
          await next.job.moveToCompleted('done', next.token, false);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('a sync that fails or is killed leaves its claim for the next one, and the streak counts', async () => {
    const user = nextUser();
    await queue.enqueue(
      dataOf(user, { fullSync: true, secondPass: false, priority: 5, requestedAt: 1_000_000 }),
      5,
    );
    const { job, token } = await takeNextJob();
    const first = await claim(user, job.data as SyncUserJobData);
    expect(first.claimed).toMatchObject({ fullSync: true, requestedAt: 1_000_000 });
    expect(await requests.countChanged(user, first.lease, first.token)).toBe(1);
    expect(await requests.countChanged(user, first.lease, first.token)).toBe(2);
    // Killed: no settle, the lease expires (here: deleted). A later request merges in.
    await redis.del(first.lease);
    await requests.record(
      dataOf(user, { fullSync: false, secondPass: true, priority: 1, requestedAt: 1_500_000 }),
      1,
    );
    const second = await claim(user, job.data as SyncUserJobData);
    expect(second.claimed).toEqual({
      fullSync: true,
      secondPass: true,
      requestedAt: 1_000_000,
      priority: 1,
      changedStreak: 2,
    });
    // Only the lease holder settles or counts.
    await settle(user, second.lease, 'not-the-holder');
    expect(await redis.exists(keys.claimedSyncRequest(user))).toBe(1);
    expect(await requests.countChanged(user, second.lease, 'not-the-holder')).toBe(0);
    await settle(user, second.lease, second.token);
    expect(await redis.exists(keys.claimedSyncRequest(user))).toBe(0);
    await job.moveToCompleted('done', token, false);
  });

  it("a dead run's running syncs go back to waiting at once, and a change merged into them stays", async () => {
    const user = nextUser();
    await queue.enqueue(dataOf(user, { ...plain, requestedAt: 1_000_000 }), SyncPriority.Normal);
    const dead = await takeNextJob();
    // The dead run had claimed the request and never settled it.
    await claim(user, dead.job.data as SyncUserJobData);
    // A change while the dead run's sync "runs": BullMQ defers it until that job finishes.
    await queue.enqueue(dataOf(user, { ...plain, requestedAt: 1_000_500 }), SyncPriority.High);
    const lockKey = `${queue.queue.toKey(dead.job.id ?? '')}:lock`;
    expect(await redis.get(lockKey)).toBe(dead.token);

    expect(await queue.requeueJobsOfDeadRun()).toEqual([dead.job.id]);
    expect(await redis.exists(lockKey)).toBe(0);
    expect(await queue.queue.getActiveCount()).toBe(0);

    // The dead run's lease stays until it expires (a dsync it started may still run on A).
    expect(await redis.exists(keys.lease(user))).toBe(1);
    await redis.del(keys.lease(user));
    // The same job runs again at once, without waiting for a stall check...
    const again = await takeNextJob();
    expect(again.job.id).toBe(dead.job.id);
    const first = await claim(user, again.job.data as SyncUserJobData);
    // It claims what the dead run had claimed and the change since: earliest time, top priority.
    expect(first.claimed).toMatchObject({ requestedAt: 1_000_000, priority: SyncPriority.High });
    await settle(user, first.lease, first.token);
    await again.job.moveToCompleted('done', again.token, false);
    // ...and the change that arrived meanwhile still gets its own sync after it.
    const followUp = await takeNextJob();
    expect(followUp.job.data).toMatchObject({ user });
    const second = await claim(user, followUp.job.data as SyncUserJobData);
    await settle(user, second.lease, second.token);
    await followUp.job.moveToCompleted('done', followUp.token, false);
    expect(await queue.requeueJobsOfDeadRun()).toEqual([]);
  });

  it('claims nothing without the lease', async () => {
    const user = nextUser();
    await requests.record(
      dataOf(user, { fullSync: true, secondPass: false, priority: 5, requestedAt: 7 }),
      5,
    );
    await redis.set(keys.lease(user), 'someone-else');
    const { lease, request } = await sessions.claim(
      { user, reason: { kind: 'manual' }, requestedAt: 9 },
      60_000,
      () => undefined,
    );
    expect(lease).toBeUndefined();
    expect(request).toMatchObject({ fullSync: false, requestedAt: 9 });
    expect(await redis.hget(keys.syncRequest(user), 'full')).toBe('1');
    await redis.del(keys.lease(user));
  });
});
