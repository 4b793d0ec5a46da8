import {
  type DovecotPair,
  DovewardenProcess,
  SHARED_REDIS,
  buildMessage,
  deleteNamespace,
  deliverLmtp,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  sleep,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
} from '@dovewarden/testkit';
import { StateKeys, createRedis } from '@dovewarden/shared';

/**
 * Issue 15's busy user, with every part real: Dovecot 2.4 A receives a new message every 50 ms
 * for a minute while ingest and a worker replicate it one-way to B. Runs that end in exit 2
 * ("mailboxes changed during the sync") are progress: the user is synced until a run
 * completes, is never marked failed, and no job fails.
 */
const USER = 'busy';
const LOAD_MS = 60_000;
const EVERY_MS = 50;

describeWithDovecot('2.4')('a user whose mail keeps changing', () => {
  const namespace = uniqueNamespace('busy');
  const processes: DovewardenProcess[] = [];
  let pair: DovecotPair | undefined;

  afterAll(async () => {
    for (const proc of processes) expect((await proc.stop()).code).toBe(0);
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
  });

  it(
    'gets new mail every 50 ms for a minute: synced to the end, never failed, B == A',
    async () => {
      const [ingestPort, ingestOps, workerOps] = await freePorts(3);
      const ingest = DovewardenProcess.start({
        args: ['ingest'],
        env: {
          ...dovewardenEnv(namespace),
          DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${ingestOps}`,
        },
        metricsPort: ingestOps,
      });
      processes.push(ingest);
      await ingest.waitUntilReady();
      pair = await startDovecotPair({
        version: '2.4',
        users: [USER],
        eventsUrl: `http://127.0.0.1:${ingestPort}/events`,
      });
      const worker = DovewardenProcess.start({
        args: ['worker'],
        env: {
          ...dovewardenEnv(namespace, pair),
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}`,
        },
        metricsPort: workerOps,
      });
      processes.push(worker);
      await worker.waitUntilReady();

      const server = pair.a;
      let delivered = 0;
      const end = Date.now() + LOAD_MS;
      while (Date.now() < end) {
        const next = Date.now() + EVERY_MS;
        const { raw } = buildMessage({ subject: `busy ${delivered}`, to: `${USER}@example.com` });
        await deliverLmtp(server, `${USER}@example.com`, raw);
        delivered += 1;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
      }
      expect(delivered).toBeGreaterThan(LOAD_MS / EVERY_MS / 4);

      // The default bound: 300 Doveadm API calls on A, measured now.
      const result = await waitForConvergence(pair.a, pair.b, [USER]);
      expect(result.differences).toEqual([]);

      const metrics = await (await fetch(`http://127.0.0.1:${workerOps}/metrics`)).text();
      const count = (outcome: string): number =>
        metrics
          .split('\n')
          .filter((line) => line.startsWith(`dovewarden_syncs_total{outcome="${outcome}"`))
          .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
      console.log(
        `busy user: ${delivered} deliveries; syncs: ${count('success')} succeeded, ${count('changed')} handed back after exit 2, ${count('temporary')} temporary failures`,
      );
      expect(count('success')).toBeGreaterThan(0);
      expect(count('permanent') + count('unknown-user')).toBe(0);

      const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'busy-check');
      try {
        const keys = new StateKeys(namespace);
        expect(await redis.zscore(keys.failedUsers, USER)).toBeNull();
        expect(await redis.zcard(`${namespace}:replication:failed`)).toBe(0);
      } finally {
        redis.disconnect();
      }
    },
    LOAD_MS * 4,
  );
});
