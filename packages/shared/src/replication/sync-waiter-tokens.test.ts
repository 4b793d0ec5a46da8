import { randomBytes, randomUUID } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueName, SyncPriority, type SyncUserJobData } from '../queue/catalogue';
import { SyncQueue } from '../queue/sync-queue';
import { ReplicationState } from './replication-state';

const TTL = 60_000;

function job(user: string): SyncUserJobData {
  return { user, reason: { kind: 'sync-wait' }, requestedAt: 1_000 };
}

/**
 * The rule behind POST /sync-wait, in Redis: a waiting delivery's token is answered only by a
 * sync that claimed it, one that started after the delivery, and only when that sync succeeds.
 * Real Redis, a real subscription to the channel the worker publishes on.
 */
describe('sync-wait tokens: published by the successful sync that claimed them', () => {
  const namespace = `dwtest-waiters-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const subscriber = redis.duplicate();
  const state = new ReplicationState(redis, namespace);
  const channel = state.keys.syncedWaitersChannel;
  const published: string[] = [];
  let users = 0;
  const nextUser = (): string => `waiter-user-${(users += 1)}`;

  beforeAll(async () => {
    subscriber.on('message', (_channel: string, message: string) => published.push(message));
    await subscriber.subscribe(channel);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await subscriber.quit();
    await redis.quit();
  });

  /** Every message published until now: a marker published last arrives after them all. */
  async function publishedSoFar(): Promise<string[]> {
    const marker = `marker-${randomUUID()}`;
    await redis.publish(channel, marker);
    const deadline = Date.now() + 5_000;
    while (!published.includes(marker)) {
      if (Date.now() > deadline) throw new Error('the marker never arrived');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const before = published.splice(0, published.length);
    return before.filter((message) => message !== marker);
  }

  const wait = (user: string, deadline = Date.now() + TTL) => {
    const token = randomUUID();
    return {
      token,
      recorded: state.requests.record(job(user), SyncPriority.DeliveryWait, { token, deadline }),
    };
  };

  const claim = async (user: string) => {
    const { lease } = await state.sessions.claim(job(user), TTL, () => undefined);
    if (lease === undefined) throw new Error('lease held');
    return lease;
  };

  it('answers a delivery only with the sync that started after it', async () => {
    await publishedSoFar();
    const user = nextUser();
    const early = wait(user);
    await early.recorded;
    const running = await claim(user);
    // Delivered while that sync runs: the running sync may have read A before this mail.
    const late = wait(user);
    await late.recorded;
    await state.sessions.recordSynced(user, { finishedAt: 2_000, fullSync: false }, running);
    expect(await publishedSoFar()).toEqual([early.token]);
    // The follow-up sync claimed the late token; it answers it.
    const followUp = await claim(user);
    await state.sessions.recordSynced(user, { finishedAt: 3_000, fullSync: false }, followUp);
    expect(await publishedSoFar()).toEqual([late.token]);
  });

  it('lets several deliveries of one user share one sync', async () => {
    await publishedSoFar();
    const user = nextUser();
    const waits = [wait(user), wait(user), wait(user)];
    await Promise.all(waits.map((w) => w.recorded));
    const lease = await claim(user);
    await state.sessions.recordSynced(user, { finishedAt: 2_000, fullSync: false }, lease);
    const messages = await publishedSoFar();
    expect(messages).toHaveLength(1);
    expect(new Set(messages[0]?.split(' '))).toEqual(new Set(waits.map((w) => w.token)));
  });

  it('keeps the tokens of a failed sync for the next one, and publishes nothing on failure', async () => {
    await publishedSoFar();
    const user = nextUser();
    const delivery = wait(user);
    await delivery.recorded;
    const failed = await claim(user);
    await failed.release();
    expect(await publishedSoFar()).toEqual([]);
    const retry = await claim(user);
    await state.sessions.recordSynced(user, { finishedAt: 2_000, fullSync: false }, retry);
    expect(await publishedSoFar()).toEqual([delivery.token]);
  });

  it('drops the tokens of deliveries that stopped waiting, and publishes none for a plain sync', async () => {
    await publishedSoFar();
    const user = nextUser();
    const gone = wait(user, Date.now() - 1);
    await gone.recorded;
    const lease = await claim(user);
    expect(await redis.hget(state.keys.claimedSyncRequest(user), 'waited')).toBeNull();
    await state.sessions.recordSynced(user, { finishedAt: 2_000, fullSync: false }, lease);
    const plain = nextUser();
    await state.requests.record(
      { user: plain, reason: { kind: 'manual' }, requestedAt: 1_000 },
      SyncPriority.Normal,
    );
    const plainLease = await claim(plain);
    await state.sessions.recordSynced(plain, { finishedAt: 2_000, fullSync: false }, plainLease);
    expect(await publishedSoFar()).toEqual([]);
  });

  it("runs a waiting delivery's sync before every other queued sync, and raises a pending one to it", async () => {
    const queue = new SyncQueue(redis, namespace);
    const connection = redis.duplicate();
    const worker = new Worker(QueueName.Replication, null, {
      connection,
      prefix: namespace,
      autorun: false,
    });
    try {
      const backlog = Array.from({ length: 5 }, () => nextUser());
      for (const user of backlog)
        await queue.enqueue(
          { user, reason: { kind: 'delivery' }, requestedAt: 1 },
          SyncPriority.High,
        );
      // A user whose background sync already waits: the delivery's wait must not queue behind.
      const waiting = nextUser();
      await queue.enqueue(
        { user: waiting, reason: { kind: 'background' }, requestedAt: 1 },
        SyncPriority.Low,
      );
      const delivered = nextUser();
      const raised = await queue.enqueue(
        { user: waiting, reason: { kind: 'sync-wait' }, requestedAt: 2 },
        SyncPriority.DeliveryWait,
        { token: randomUUID(), deadline: Date.now() + TTL },
      );
      expect(raised).toMatchObject({ merged: true, raised: true });
      await queue.enqueue(
        { user: delivered, reason: { kind: 'sync-wait' }, requestedAt: 3 },
        SyncPriority.DeliveryWait,
        { token: randomUUID(), deadline: Date.now() + TTL },
      );
      const taken: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        const job = (await worker.getNextJob(`t-${i}`, { block: false })) as Job | undefined;
        taken.push((job?.data as SyncUserJobData | undefined)?.user ?? 'none');
      }
      expect(taken.slice(0, 2).sort()).toEqual([waiting, delivered].sort());
      expect(backlog).toContain(taken[2]);
    } finally {
      await worker.close();
      await connection.quit();
      await queue.queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('bounds the tokens a user piles up while no sync claims them', async () => {
    const user = nextUser();
    for (let i = 0; i < 200; i += 1) await wait(user, Date.now() - 1).recorded;
    const live = wait(user);
    await live.recorded;
    const fields = await redis.hkeys(state.keys.syncRequest(user));
    expect(fields.filter((field) => field.startsWith('w:')).length).toBeLessThanOrEqual(66);
    expect(fields).toContain(`w:${live.token}`);
  });
});
