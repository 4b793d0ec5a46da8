import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DOVECOT_BACKENDS,
  type DovecotPair,
  DovewardenProcess,
  PrivateRedis,
  SHARED_REDIS,
  appendMessage,
  closeImap,
  buildMessage,
  connectImap,
  deleteNamespace,
  deliverLmtp,
  describeWithDovecot,
  freePorts,
  listSubjects,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  dovewardenEnv,
  expectWithin,
  nodeStartReference,
  relativeBound,
} from '@dovewarden/testkit';

/**
 * The walking skeleton, end to end with every part real: an IMAP APPEND on Dovecot 2.4 A makes
 * A itself post an event to ingest, ingest queues a job in Redis, a worker runs doveadm sync
 * through A's Doveadm HTTP API, and the message shows up on Dovecot 2.4 B.
 */
// Dovecot 2.4 on each of the testkit's backends: the Debian 13 chroot, and a container through
// testcontainers (the official image, or a local build of its tag: scripts/docker-images.sh).
describe.each(DOVECOT_BACKENDS)('Dovecot 2.4 in a %s', (backend) => {
  describeWithDovecot('2.4', backend)('one change on Dovecot A reaches Dovecot B', () => {
    const users = ['user1', 'user2@example.com'];
    const processes: DovewardenProcess[] = [];
    let pair: DovecotPair | undefined;
    let namespace = '';
    // With Dovecot in containers, Redis runs in one too (testcontainers); else the machine's.
    let redis: PrivateRedis | undefined;
    const redisEnv = (): Record<string, string> =>
      redis === undefined ? {} : { DOVEWARDEN_REDIS_ADDR: `127.0.0.1:${redis.port}` };

    beforeAll(async () => {
      if (backend === 'container')
        redis = await PrivateRedis.start({ backend: 'container', appendOnly: false });
    });

    afterAll(async () => {
      await redis?.stop();
    });

    afterEach(async () => {
      for (const proc of processes.splice(0)) {
        const result = await proc.stop();
        expect({
          code: result.code,
          tail: result.code === 0 ? [] : proc.output.slice(-20),
        }).toEqual({
          code: 0,
          tail: [],
        });
      }
      await pair?.stop();
      pair = undefined;
      if (namespace !== '') await deleteNamespace(redis?.target ?? SHARED_REDIS, namespace);
    });

    it('replicates an APPEND with separate ingest and worker processes', async () => {
      namespace = uniqueNamespace('e2e');
      const [ingestPort, ingestOps, workerOps] = await freePorts(3);
      const common = {
        ...dovewardenEnv(namespace),
        ...redisEnv(),
        DOVEWARDEN_LOG_LEVEL: 'debug',
      };
      const ingest = DovewardenProcess.start({
        args: ['ingest'],
        env: {
          ...common,
          DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}`,
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${ingestOps}`,
        },
        metricsPort: ingestOps,
      });
      processes.push(ingest);
      await ingest.waitUntilReady();

      pair = await startDovecotPair({
        version: '2.4',
        backend,
        users,
        eventsUrl: `http://127.0.0.1:${ingestPort}/events`,
      });
      // Really on that backend: a container each, or none.
      expect([pair.a.backend, pair.b.backend]).toEqual([backend, backend]);
      expect([pair.a.containerId === null, pair.b.containerId === null]).toEqual([
        backend === 'chroot',
        backend === 'chroot',
      ]);
      const worker = DovewardenProcess.start({
        args: ['worker'],
        env: {
          ...common,
          ...dovewardenEnv(namespace, pair),
          ...redisEnv(),
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${workerOps}`,
        },
        metricsPort: workerOps,
      });
      processes.push(worker);
      await worker.waitUntilReady();

      for (const user of users) {
        const imap = await connectImap(pair.a, user);
        await appendMessage(imap, 'INBOX', { subject: `hello ${user}` });
        await closeImap(imap);
      }

      const result = await waitForConvergence(pair.a, pair.b, users);
      expect(result.differences).toEqual([]);
      // B is only read after the first sync, so this cannot plant a GUID conflict.
      for (const user of users) {
        const imapB = await connectImap(pair.b, user);
        expect(await listSubjects(imapB, 'INBOX')).toEqual([`hello ${user}`]);
        await closeImap(imapB);
      }

      const metrics = await (await fetch(`http://127.0.0.1:${ingestOps}/metrics`)).text();
      expect(metrics).toMatch(
        /dovewarden_ingest_events_total\{outcome="accepted",reason="imap"\} [1-9]/,
      );
      // The password never reaches the logs.
      expect(worker.output.join('\n')).not.toContain(pair.a.doveadmPassword);
      expect(pair.a.logProblems()).toEqual([]);
      expect(pair.b.logProblems()).toEqual([]);
    });

    it('replicates with `dovewarden all` and its embedded Redis, and stops cleanly', async () => {
      const [httpPort, opsPort] = await freePorts(2);
      const dataDir = mkdtempSync(join(tmpdir(), 'dw-e2e-all-'));
      // Measured before anything of this test runs, so that it reflects the machine, not the test.
      const ready = relativeBound(await nodeStartReference(), 10);
      try {
        pair = await startDovecotPair({
          version: '2.4',
          backend,
          users,
          eventsUrl: `http://127.0.0.1:${httpPort}/events`,
        });
        const all = DovewardenProcess.start({
          args: ['all'],
          env: {
            DOVEWARDEN_DATA_DIR: dataDir,
            DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
            DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
            DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
            // The embedded Redis, so only the source and replica settings, not dovewardenEnv().
            DOVEWARDEN_DOVEADM_URL: pair.a.doveadmHttpUrl,
            DOVEWARDEN_DOVEADM_PASSWORD: pair.a.doveadmPassword,
            DOVEWARDEN_DOVEADM_DEST: pair.b.dsyncDestination,
          },
          metricsPort: opsPort,
        });
        processes.push(all);
        // All apps and an embedded redis-server, ready within 10 starts of the bare command.
        expectWithin(await all.waitUntilReady(), ready, '`dovewarden all` getting ready');

        const imap = await connectImap(pair.a, 'user1');
        await appendMessage(imap, 'INBOX', { subject: 'via all-in-one' });
        await closeImap(imap);
        const result = await waitForConvergence(pair.a, pair.b, ['user1']);
        expect(result.differences).toEqual([]);

        const stopped = await processes.pop()!.stop();
        expect(stopped).toEqual({ code: 0, signal: null });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('replicates an LMTP delivery (mail_delivery_finished)', async () => {
      namespace = uniqueNamespace('e2e-lmtp');
      const [httpPort, opsPort] = await freePorts(2);
      pair = await startDovecotPair({
        version: '2.4',
        backend,
        users,
        eventsUrl: `http://127.0.0.1:${httpPort}/events`,
      });
      const all = DovewardenProcess.start({
        args: ['all'],
        env: {
          ...dovewardenEnv(namespace, pair),
          ...redisEnv(),
          DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
          DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
          DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
          DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
        },
        metricsPort: opsPort,
      });
      processes.push(all);
      await all.waitUntilReady();

      await deliverLmtp(pair.a, 'user1', buildMessage({ subject: 'delivered' }).raw);
      const result = await waitForConvergence(pair.a, pair.b, ['user1']);
      expect(result.differences).toEqual([]);
      const imapB = await connectImap(pair.b, 'user1');
      expect(await listSubjects(imapB, 'INBOX')).toEqual(['delivered']);
      await closeImap(imapB);
    });
  });

  /** Dovecot 2.3 from Debian 12 is the second target: its exporter and its doveadm API differ. */
});

describeWithDovecot('2.3')('one change on Dovecot 2.3 A reaches Dovecot 2.3 B', () => {
  let pair: DovecotPair | undefined;
  let proc: DovewardenProcess | undefined;
  const namespace = uniqueNamespace('e2e-23');

  afterAll(async () => {
    const stopped = await proc?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    expect(stopped?.code).toBe(0);
  });

  it('replicates an APPEND', async () => {
    const [httpPort, opsPort] = await freePorts(2);
    pair = await startDovecotPair({
      version: '2.3',
      users: ['user1'],
      eventsUrl: `http://127.0.0.1:${httpPort}/events`,
    });
    proc = DovewardenProcess.start({
      args: ['all'],
      env: {
        ...dovewardenEnv(namespace, pair),
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
        DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
        DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
        // 2.3 names the raw recipient in mail_delivery_finished; its IMAP events say user1.
        DOVEWARDEN_USERNAME_FORMAT: 'localpart',
      },
      metricsPort: opsPort,
    });
    await proc.waitUntilReady();
    const imap = await connectImap(pair.a, 'user1');
    await appendMessage(imap, 'INBOX', { subject: 'from 2.3' });
    await closeImap(imap);
    const result = await waitForConvergence(pair.a, pair.b, ['user1']);
    expect(result.differences).toEqual([]);
  });

  it('replicates an LMTP delivery to the full address as the same user', async () => {
    await deliverLmtp(
      pair!.a,
      'user1@example.com',
      buildMessage({ subject: 'to the address' }).raw,
    );
    const result = await waitForConvergence(pair!.a, pair!.b, ['user1']);
    expect(result.differences).toEqual([]);
    const imapB = await connectImap(pair!.b, 'user1');
    expect(await listSubjects(imapB, 'INBOX')).toEqual(['from 2.3', 'to the address']);
    await closeImap(imapB);
  });
});
