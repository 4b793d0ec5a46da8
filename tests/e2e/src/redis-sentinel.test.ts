import { SyncQueue, buildConfig, closeRedis, createRedis } from '@dovewarden/shared';
import {
  type DovecotPair,
  DovewardenProcess,
  FakeDoveadm,
  appendMessage,
  closeImap,
  connectImap,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  startDovecotPair,
  waitForConvergence,
  type Bound,
  configuredPlus,
  hangGuard,
  missingRedisServer,
  nodeStartReference,
  requireOrSkip,
  sleep,
} from '@dovewarden/testkit';
import { LoopbackSentinel, redisCli } from './redis-topology';

/**
 * Redis Sentinel: ingest and a worker find the master through a Sentinel. The master then
 * crashes, the Sentinel promotes the replica, and both processes carry on against the new
 * master without a restart, a sync that was running at the time included.
 */
(requireOrSkip('the Redis Sentinel tests', missingRedisServer())
  ? describeWithDovecot('2.4')
  : describe.skip)('Redis Sentinel', () => {
  /**
   * Reconnecting after a failover: the longest configured reconnect delay (2 s, see
   * redis-connection.ts), then as long as a start of the dovewarden command takes to get ready.
   */
  const backAfterFailover = async (): Promise<Bound> =>
    configuredPlus(2000, await nodeStartReference(), 25);

  const users = ['user1', 'user2@example.com'];
  const processes: DovewardenProcess[] = [];
  let sentinel: LoopbackSentinel | undefined;
  let pair: DovecotPair | undefined;

  beforeEach(async () => {
    sentinel = await LoopbackSentinel.start();
  }, hangGuard(1500).ms);

  afterEach(async () => {
    for (const proc of processes.splice(0)) {
      const result = await proc.stop();
      expect({ code: result.code, tail: result.code === 0 ? [] : proc.output.slice(-20) }).toEqual({
        code: 0,
        tail: [],
      });
    }
    await pair?.stop();
    pair = undefined;
    await sentinel?.stop();
    sentinel = undefined;
  });

  async function append(user: string, subject: string): Promise<void> {
    if (pair === undefined) throw new Error('no Dovecot pair');
    const imap = await connectImap(pair.a, user);
    await appendMessage(imap, 'INBOX', { subject });
    await closeImap(imap);
  }

  it('replicates before and after a failover', async () => {
    if (sentinel === undefined) throw new Error('the Sentinel did not start');
    const [ingestPort, ingestOps, workerOps] = await freePorts(3);
    const redisEnv = {
      ...dovewardenEnv('dovewarden'),
      // Unreachable on purpose: with Sentinels set, only its credentials would count.
      DOVEWARDEN_REDIS_ADDR: '127.0.0.1:1',
      DOVEWARDEN_REDIS_SENTINELS: `127.0.0.1:${sentinel.sentinelPort}`,
      DOVEWARDEN_REDIS_SENTINEL_MASTER: LoopbackSentinel.MASTER_NAME,
    };
    const ingest = DovewardenProcess.start({
      args: ['ingest'],
      env: {
        ...redisEnv,
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${ingestOps}`,
      },
      metricsPort: ingestOps,
    });
    processes.push(ingest);
    await ingest.waitUntilReady();
    pair = await startDovecotPair({
      version: '2.4',
      users,
      eventsUrl: `http://127.0.0.1:${ingestPort}/events`,
    });
    const worker = DovewardenProcess.start({
      args: ['worker'],
      env: {
        ...redisEnv,
        ...dovewardenEnv('dovewarden', pair),
        DOVEWARDEN_REDIS_ADDR: redisEnv.DOVEWARDEN_REDIS_ADDR,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}`,
      },
      metricsPort: workerOps,
    });
    processes.push(worker);
    await worker.waitUntilReady();

    for (const user of users) await append(user, `before failover ${user}`);
    expect((await waitForConvergence(pair.a, pair.b, users)).differences).toEqual([]);
    // The jobs went to the master, and the replica has them too.
    expect(Number(await redisCli(sentinel.masterPort, 'exists', 'dovewarden:last-success'))).toBe(
      1,
    );

    const crashedAt = Date.now();
    await sentinel.crashMaster();
    const promotedMs = Date.now() - crashedAt;
    // Both processes reconnect to the promoted replica on their own.
    const back = await backAfterFailover();
    const ingestBackMs = (await ingest.waitUntilReady(back)) + promotedMs;
    await worker.waitUntilReady(back);

    for (const user of users) await append(user, `after failover ${user}`);
    expect((await waitForConvergence(pair.a, pair.b, users)).differences).toEqual([]);
    expect(Number(await redisCli(sentinel.replicaPort, 'zcard', 'dovewarden:last-success'))).toBe(
      users.length,
    );
    const workerMetrics = await (await fetch(`http://127.0.0.1:${workerOps}/metrics`)).text();
    expect(workerMetrics).toMatch(/dovewarden_syncs_total\{outcome="success",[^}]*\} [1-9]/);
    // What the failover cost, for the docs; a test log, not an assertion on timing.
    process.stdout.write(
      `sentinel failover: promoted after ${promotedMs} ms, ingest ready again after ${ingestBackMs} ms\n`,
    );
    expect(pair.a.logProblems()).toEqual([]);
    expect(pair.b.logProblems()).toEqual([]);
  });

  it('finishes a sync that was running during the failover and stores its state once', async () => {
    if (sentinel === undefined) throw new Error('the Sentinel did not start');
    const password = 'pw-sentinel-test';
    const destination = 'tcp:replica:1';
    let release: (answer: 'success') => void = () => undefined;
    const held = new Promise<'success'>((resolve) => {
      release = resolve;
    });
    const fake = await FakeDoveadm.start({ password, behaviour: () => held, clock: Date.now });
    const sentinelEnv = {
      DOVEWARDEN_REDIS_MODE: 'external',
      DOVEWARDEN_REDIS_ADDR: '127.0.0.1:1',
      DOVEWARDEN_REDIS_SENTINELS: `127.0.0.1:${sentinel.sentinelPort}`,
    };
    const target = buildConfig(
      { 'redis-mode': 'external', 'redis-sentinels': sentinelEnv.DOVEWARDEN_REDIS_SENTINELS },
      'tool',
    ).redisAddr;
    const producer = createRedis(target, 'wait-for-redis', 'sentinel-test');
    producer.on('error', () => undefined);
    const queue = new SyncQueue(producer, 'dovewarden');
    queue.queue.on('error', () => undefined);
    try {
      const [workerOps] = await freePorts(1);
      const worker = DovewardenProcess.start({
        args: ['worker'],
        env: {
          ...sentinelEnv,
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}`,
          DOVEWARDEN_DOVEADM_URL: fake.url,
          DOVEWARDEN_DOVEADM_PASSWORD: password,
          DOVEWARDEN_DOVEADM_DEST: destination,
        },
        metricsPort: workerOps,
      });
      processes.push(worker);
      await worker.waitUntilReady();
      await queue.enqueue({ user: 'held', reason: { kind: 'manual' }, requestedAt: Date.now() });
      await fake.waitUntil(() => fake.running === 1);

      // The sync runs on "Dovecot" while Redis loses its master and gets a new one.
      await sentinel.crashMaster();
      release('success');
      await fake.waitUntil(() => fake.running === 0);

      const stateKey = `dovewarden:dsync-state:${encodeURIComponent(destination)}:held`;
      const deadline = Date.now() + (await backAfterFailover()).ms;
      while (
        (await redisCli(sentinel.replicaPort, 'get', stateKey)) === '' &&
        Date.now() < deadline
      ) {
        await sleep(100);
      }
      const calls = fake.syncCalls();
      expect(calls).toHaveLength(1);
      expect(await redisCli(sentinel.replicaPort, 'get', stateKey)).toBe(calls[0]?.returnedState);
      await worker.waitUntilReady(await backAfterFailover());
      const counts = await queue.queue.getJobCounts('completed', 'failed', 'active', 'wait');
      expect(counts).toEqual({ completed: 1, failed: 0, active: 0, wait: 0 });
    } finally {
      await queue.close();
      await closeRedis(producer);
      await fake.stop();
    }
  });
});
