import {
  DovewardenProcess,
  FakeDoveadm,
  type FakeAnswer,
  SHARED_REDIS,
  deleteNamespace,
  freePorts,
  uniqueNamespace,
  dovewardenEnv,
  type Bound,
  type Reference,
  configuredPlus,
  hangGuard,
  nodeStartReference,
  queueRoundTripReference,
  relativeBound,
  sleep,
  waitUntil,
} from '@dovewarden/testkit';
import { SyncQueue, StateKeys, createRedis } from '@dovewarden/shared';

/**
 * The worker's three promises, with real worker processes and real Redis against a fake
 * doveadm that records every call: at most one sync per user at a time, one more sync for
 * changes during a sync, and failures that back off without losing jobs.
 */
const PASSWORD = 'worker-test-pw';

/**
 * Bounds here are multiples of one start of the dovewarden command on this machine (`start`,
 * measured once per file before the first worker starts), plus what the worker is configured
 * to wait (retry delays, lock duration, doveadm probe delay) where a wait includes that.
 * Jest's own per-test timeouts are hang guards in bare node starts (hangGuard).
 */
let start: Reference;
const within = (multiple: number): Bound => relativeBound(start, multiple);
const TEST_TIMEOUT = hangGuard(3000).ms;

interface Harness {
  namespace: string;
  fake: FakeDoveadm;
  queue: SyncQueue;
  keys: StateKeys;
  workers: DovewardenProcess[];
  startWorker(env?: Record<string, string>): Promise<DovewardenProcess>;
  enqueue(user: string): Promise<unknown>;
  idle(): Promise<boolean>;
  teardown(): Promise<void>;
}

async function harness(
  fakeOptions: Partial<Parameters<typeof FakeDoveadm.start>[0]> = {},
): Promise<Harness> {
  start = await nodeStartReference();
  const namespace = uniqueNamespace('wk');
  const fake = await FakeDoveadm.start({ password: PASSWORD, clock: Date.now, ...fakeOptions });
  const producer = createRedis(SHARED_REDIS, 'fail-fast', 'test-producer');
  const queue = new SyncQueue(producer, namespace, { attempts: 4 });
  await queue.waitUntilReady();
  const workers: DovewardenProcess[] = [];
  return {
    namespace,
    fake,
    queue,
    keys: new StateKeys(namespace),
    workers,
    async startWorker(env = {}) {
      const [opsPort] = await freePorts(1);
      const worker = DovewardenProcess.start({
        args: ['worker'],
        env: {
          ...dovewardenEnv(namespace),
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
          DOVEWARDEN_DOVEADM_URL: fake.url,
          DOVEWARDEN_DOVEADM_PASSWORD: PASSWORD,
          DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:1',
          DOVEWARDEN_NUM_WORKERS: '4',
          DOVEWARDEN_MAX_PARALLEL_SYNCS: '100',
          DOVEWARDEN_LOG_LEVEL: 'warn',
          ...env,
        },
        metricsPort: opsPort,
      });
      workers.push(worker);
      await worker.waitUntilReady();
      return worker;
    },
    enqueue: (user) => queue.enqueue({ user, reason: { kind: 'manual' }, requestedAt: Date.now() }),
    async idle() {
      const counts = await queue.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      return Object.values(counts).every((count) => count === 0) && fake.running === 0;
    },
    async teardown() {
      for (const worker of workers) {
        const result = await worker.stop();
        if (result.signal !== 'SIGKILL') expect(result.code).toBe(0);
      }
      await fake.stop();
      await queue.queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      await producer.quit();
      await deleteNamespace(SHARED_REDIS, namespace);
    },
  };
}

describe('worker guarantees', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.teardown();
    h = undefined;
  });

  it(
    'never runs two syncs of one user at once, and syncs after every user’s last change (8 workers, 2 processes, 10,000 events, 50 users)',
    async () => {
      h = await harness({ latencyMs: (user) => 2 + (user.length % 7) });
      await h.startWorker();
      await h.startWorker();
      const lastChange = new Map<string, number>();
      for (let batch = 0; batch < 100; batch += 1) {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => {
            const user = `user${(batch * 100 + i) % 50}@example.com`;
            lastChange.set(user, Date.now());
            return h!.enqueue(user);
          }),
        );
        await sleep(20);
      }
      // About 10 starts' worth on a quiet machine; a 10x slower worker fails.
      await waitUntil(() => h!.idle(), within(100), 'the queue to drain');
      // No two dsyncs of a user at once, and the lease kept even the calls apart.
      expect(h.fake.overlaps()).toEqual([]);
      expect(h.fake.callOverlaps()).toEqual([]);
      expect(h.fake.syncCalls().every((call) => call.params.lockTimeout === 30)).toBe(true);
      for (const [user, changedAt] of lastChange) {
        const syncs = h.fake.syncsFor(user).filter((call) => call.answer === 'success');
        const last = syncs.at(-1);
        expect({ user, after: (last?.startedAt ?? 0) >= changedAt }).toEqual({ user, after: true });
      }
      // Coalescing did its job: far fewer syncs than events.
      expect(h.fake.syncCalls().length).toBeLessThan(5000);
    },
    TEST_TIMEOUT,
  );

  it(
    'folds a burst of 1,000 events during a sync into at most 2 more syncs',
    async () => {
      let release: () => void = () => undefined;
      const held = new Promise<FakeAnswer>((resolve) => {
        release = () => resolve('success');
      });
      let first = true;
      h = await harness({
        behaviour: () => {
          if (!first) return 'success';
          first = false;
          return held;
        },
      });
      await h.startWorker();
      await h.enqueue('bursty');
      await waitUntil(() => h!.fake.running === 1, within(20), 'the first sync');
      await Promise.all(Array.from({ length: 1000 }, () => h!.enqueue('bursty')));
      release();
      await waitUntil(() => h!.idle(), within(40), 'the queue to drain');
      const syncs = h.fake.syncsFor('bursty');
      expect(syncs.length).toBeGreaterThanOrEqual(2);
      expect(syncs.length - 1).toBeLessThanOrEqual(2);
    },
    TEST_TIMEOUT,
  );

  it(
    'spaces retries of a temporary failure as configured and ends in the failed set',
    async () => {
      h = await harness({ behaviour: (call) => (call.user === 'down' ? 75 : 'success') });
      await h.startWorker({
        DOVEWARDEN_RETRY_BASE_DELAY: '400ms',
        DOVEWARDEN_RETRY_MAX_DELAY: '1s',
      });
      await h.enqueue('down');
      // Three retries: 400 + 800 + 1000 ms configured, +25 % jitter at most.
      await waitUntil(
        async () => (await h!.queue.queue.getFailedCount()) === 1,
        configuredPlus(2750, start, 20),
        'the job to fail',
      );
      const starts = h.fake.syncsFor('down').map((call) => call.startedAt);
      expect(starts).toHaveLength(4);
      const gaps = starts.slice(1).map((at, i) => at - starts[i]);
      // 400 ms doubling, capped at 1 s, each ±25 %; plus a little for BullMQ to move the job:
      // 200 BullMQ job round trips measured on this machine (about 1 s on a quiet one).
      const moving = relativeBound(await queueRoundTripReference(), 200);
      [400, 800, 1000].forEach((nominal, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(nominal * 0.75 - 50);
        const bound = `${nominal * 1.25} ms + ${moving.why}`;
        const within = gaps[i] <= nominal * 1.25 + moving.ms;
        expect({ gap: i, ms: gaps[i], bound, within }).toEqual({
          gap: i,
          ms: gaps[i],
          bound,
          within: true,
        });
      });
      const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'check');
      expect(await redis.zscore(h.keys.failedUsers, 'down')).not.toBeNull();
      expect(await redis.hget(h.keys.userStatus('down'), 'lastFailureExitCode')).toBe('75');
      await redis.quit();
    },
    TEST_TIMEOUT,
  );

  it(
    'retries a storage failure of dsync (exit 68, a mailbox deleted under it) instead of failing the job at once',
    async () => {
      let failuresLeft = 2;
      h = await harness({
        behaviour: () => {
          if (failuresLeft === 0) return 'success';
          failuresLeft -= 1;
          return 68;
        },
      });
      await h.startWorker({
        DOVEWARDEN_RETRY_BASE_DELAY: '200ms',
        DOVEWARDEN_RETRY_MAX_DELAY: '400ms',
      });
      await h.enqueue('raced');
      // Two retries: 200 + 400 ms configured, +25 % jitter at most.
      await waitUntil(
        async () => (await h!.queue.queue.getCompletedCount()) === 1,
        configuredPlus(750, start, 20),
        'the job to complete',
      );
      expect(h.fake.syncsFor('raced').map((call) => call.answer)).toEqual([68, 68, 'success']);
      expect(await h.queue.queue.getFailedCount()).toBe(0);
    },
    TEST_TIMEOUT,
  );

  it(
    'pauses on a wrong password after one failure, keeps queued attempts, and resumes once fixed',
    async () => {
      h = await harness();
      h.fake.setPassword('not-what-the-worker-sends');
      const worker = await h.startWorker({ DOVEWARDEN_NUM_WORKERS: '1' });
      for (let i = 0; i < 5; i += 1) await h.enqueue(`cfg${i}`);
      await waitUntil(
        async () => (await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`)).status === 503,
        within(20),
        '/readyz to turn 503',
      );
      const report = (await (
        await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`)
      ).json()) as { reasons?: Record<string, string> };
      expect(report.reasons?.['doveadm-accepts-us']).toMatch(/401|DOVEADM_AUTHENTICATION_FAILED/);
      await sleep(1000);
      // The fake refuses before it records a call, so count what the worker tried instead.
      const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
      const refused = metrics
        .split('\n')
        .filter((line) => line.startsWith('dovewarden_syncs_total{outcome="configuration"'));
      expect(refused.map((line) => Number(line.split(' ').pop()))).toEqual([1]);
      const jobs = await h.queue.queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1);
      expect(jobs).toHaveLength(5);
      expect(jobs.every((job) => job.attemptsMade === 0)).toBe(true);

      h.fake.setPassword(PASSWORD);
      // The first probe comes 10 s after the pause (5 s doubled, configuration-gate.ts) and the
      // handed-back jobs wait the same 10 s: 20 s configured at worst, back to back.
      await waitUntil(
        () => h!.idle(),
        configuredPlus(20_000, start, 20),
        'the worker to resume and drain',
      );
      expect(await h.queue.queue.getFailedCount()).toBe(0);
      for (let i = 0; i < 5; i += 1) {
        expect(h.fake.syncsFor(`cfg${i}`).some((call) => call.answer === 'success')).toBe(true);
      }
      expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`)).status).toBe(200);
    },
    TEST_TIMEOUT,
  );

  it(
    'treats exit 2 as progress: syncs a busy user until a run completes, full syncs after the first exit 2, no attempt used and no failure mark',
    async () => {
      // After a first sync, 7 job runs of 4 dsyncs each (3 immediate re-runs) all end in
      // exit 2, then one passes.
      let changed = 28;
      let synced = false;
      h = await harness({
        behaviour: (call) => {
          if (call.user !== 'busy' || !synced) return 'success';
          return (changed -= 1) >= 0 ? 2 : 'success';
        },
      });
      await h.startWorker({
        DOVEWARDEN_RETRY_BASE_DELAY: '20ms',
        DOVEWARDEN_RETRY_MAX_DELAY: '200ms',
      });
      await h.enqueue('busy');
      await waitUntil(
        async () => (await h!.queue.queue.getCompletedCount()) === 1,
        within(20),
        'the first sync',
      );
      synced = true;
      const firstState = h.fake.syncsFor('busy')[0]?.returnedState;
      await h.enqueue('busy');
      await waitUntil(
        async () => (await h!.queue.queue.getCompletedCount()) === 2,
        configuredPlus(7 * 200, start, 40),
        'the busy user to be synced',
      );
      const calls = h.fake.syncsFor('busy').slice(1);
      expect(calls).toHaveLength(29);
      expect(calls.at(-1)?.answer).toBe('success');
      // The first run went on from the last good state. Exit 2 discards the state of a run
      // that changed B, so every run after it is a full sync, across hand-backs too, until
      // one completes.
      expect(calls[0]).toMatchObject({ fullSync: false, state: firstState });
      expect(calls.slice(1).every((call) => call.fullSync && call.state === '')).toBe(true);
      expect(await h.queue.queue.getFailedCount()).toBe(0);
      // BullMQ counts the run that completed; the seven hand-backs used no attempt.
      const jobs = await h.queue.queue.getJobs(['completed']);
      expect(jobs.map((job) => job.attemptsMade)).toEqual([1, 1]);
      const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'test-check');
      try {
        expect(await redis.zscore(h.keys.failedUsers, 'busy')).toBeNull();
        expect(await redis.hget(h.keys.userStatus('busy'), 'lastFailureAt')).toBeNull();
        // The claim is settled by the success: the next sync starts without a streak.
        expect(await redis.exists(h.keys.claimedSyncRequest('busy'))).toBe(0);
      } finally {
        redis.disconnect();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'finishes a job elsewhere when its worker is killed with -9 mid-sync, never beside the dsync the killed worker left running',
    async () => {
      // The killed worker's dsync goes on on the server (as Dovecot's does) until we end it.
      let endOrphan: (answer: FakeAnswer) => void = () => undefined;
      let first = true;
      h = await harness({
        behaviour: (call) => {
          if (call.user !== 'orphan' || !first) return 'success';
          first = false;
          return new Promise<FakeAnswer>((resolve) => (endOrphan = resolve));
        },
      });
      const doomed = await h.startWorker();
      await h.enqueue('orphan');
      await waitUntil(() => h!.fake.running === 1, within(20), 'the sync to start');
      doomed.kill();
      await doomed.exited();
      await h.startWorker();
      // BullMQ takes the job over once the killed worker's lock has expired (15 s) and two stall
      // checks (every 15 s, start-worker.ts) have seen it: up to 45 s. The retry then reaches
      // the server while the orphaned dsync still holds dsync's lock.
      await waitUntil(
        () => h!.fake.syncsFor('orphan').length === 2,
        configuredPlus(45_000, start, 40),
        'another worker to retry the job',
      );
      expect(Number.isNaN(h.fake.syncsFor('orphan')[1]?.dsyncStartedAt)).toBe(true);
      endOrphan('success');
      await waitUntil(
        async () => (await h!.queue.queue.getCompletedCount()) === 1,
        within(20),
        'the job to complete',
      );
      expect(await h.queue.queue.getFailedCount()).toBe(0);
      const [orphaned, retry] = h.fake.syncsFor('orphan');
      expect(retry?.answer).toBe('success');
      // On the server the retry's dsync began only once the orphaned one had ended.
      expect(retry.dsyncStartedAt).toBeGreaterThanOrEqual(orphaned.dsyncEndedAt);
      expect(h.fake.overlaps()).toEqual([]);
    },
    45_000 + TEST_TIMEOUT,
  );

  it(
    'hands a running sync back on SIGTERM: the job completes later, unfailed, with its attempts, and never beside the dsync still running',
    async () => {
      let endAbandoned: (answer: FakeAnswer) => void = () => undefined;
      let first = true;
      h = await harness({
        behaviour: () => {
          if (!first) return 'success';
          first = false;
          return new Promise<FakeAnswer>((resolve) => (endAbandoned = resolve));
        },
      });
      const leaving = await h.startWorker({ DOVEWARDEN_SHUTDOWN_TIMEOUT: '500ms' });
      await h.enqueue('term');
      await waitUntil(() => h!.fake.running === 1, within(20), 'the sync to start');
      const stopped = await leaving.stop();
      expect(stopped.code).toBe(0);
      const [handedBack] = await h.queue.queue.getJobs(
        ['delayed', 'waiting', 'prioritized'],
        0,
        -1,
      );
      expect(handedBack?.attemptsMade).toBe(0);
      await h.startWorker();
      // The handed-back job runs again while the abandoned dsync still holds dsync's lock.
      await waitUntil(
        () => h!.fake.syncsFor('term').length === 2,
        within(40),
        'the job to run again',
      );
      endAbandoned('success');
      await waitUntil(
        async () => (await h!.queue.queue.getCompletedCount()) === 1,
        within(40),
        'the job to complete',
      );
      expect(await h.queue.queue.getFailedCount()).toBe(0);
      const [abandoned, again] = h.fake.syncsFor('term');
      expect(again.dsyncStartedAt).toBeGreaterThanOrEqual(abandoned.dsyncEndedAt);
      expect(h.fake.overlaps()).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});
