import { spawnSync } from 'node:child_process';
import {
  type DovecotPair,
  DovewardenProcess,
  SHARED_REDIS,
  appendMessage,
  cliPath,
  closeImap,
  connectImap,
  deleteNamespace,
  describeWithDovecot,
  freePorts,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  dovewardenEnv,
  hangGuard,
  nodeStartReference,
  relativeBound,
  waitUntil,
} from '@dovewarden/testkit';
import { StateKeys, createRedis } from '@dovewarden/shared';

/** `dovewarden verify` against a real Dovecot 2.4 pair: once in sync, once with mail on A only. */
describeWithDovecot('2.4')('dovewarden verify', () => {
  let pair: DovecotPair | undefined;
  let worker: DovewardenProcess | undefined;
  const namespace = uniqueNamespace('e2e-verify');
  let env: Record<string, string> = {};
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
      // A hang guard: 750 bare node process starts on this machine.
      timeout: hangGuard(750).ms,
    });

  afterAll(async () => {
    expect((await worker?.stop())?.code).toBe(0);
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
  });

  it('says in sync, then lists what the replica misses and exits 2', async () => {
    const [deadPort, opsPort] = await freePorts(2);
    // No ingest: the APPEND below is on A only until someone syncs.
    pair = await startDovecotPair({
      version: '2.4',
      users: ['user1', 'user2'],
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
    env = {
      ...dovewardenEnv(namespace, pair),
      DOVEWARDEN_REPLICA_DOVEADM_URL: pair.b.doveadmHttpUrl,
    };
    worker = DovewardenProcess.start({
      args: ['worker'],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}` },
      metricsPort: opsPort,
    });
    await worker.waitUntilReady();

    const imap = await connectImap(pair.a, 'user1');
    await appendMessage(imap, 'INBOX', { subject: 'first' });
    expect(cli('replicate', 'user1').status).toBe(0);
    expect((await waitForConvergence(pair.a, pair.b, ['user1'])).differences).toEqual([]);
    // The worker records the success just after dsync returns: wait for that, not a fixed time.
    const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'verify-test');
    const keys = new StateKeys(namespace);
    try {
      await waitUntil(
        async () =>
          (await redis.zscore(keys.lastSuccessAt(pair!.b.dsyncDestination), 'user1')) !== null,
        relativeBound(await nodeStartReference(), 20),
        "the worker to record user1's success",
      );
    } finally {
      await redis.quit();
    }

    const same = cli('verify', 'user1');
    expect({ status: same.status, stdout: same.stdout, stderr: same.stderr }).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^user1: in sync \(\d+ mailboxes\)\n$/) as unknown,
    });

    await appendMessage(imap, 'INBOX', { subject: 'only on A' });
    await closeImap(imap);
    const differs = cli('verify', 'user1', '--json');
    expect(differs.status).toBe(2);
    const report = JSON.parse(differs.stdout) as {
      inSync: boolean;
      differences: Array<{ kind: string; text: string }>;
    };
    expect(report.inSync).toBe(false);
    expect(report.differences).toEqual([
      { kind: 'uidnext', text: 'user1 INBOX: uidnext A=3 B=2' },
      { kind: 'message-count', text: 'user1 INBOX: messages A=2 B=1' },
      {
        kind: 'message-missing',
        text: expect.stringMatching(/^user1 INBOX: UID 2 \(GUID \S+\) missing on B$/) as unknown,
      },
    ]);
    const text = cli('verify', 'user1');
    expect({ status: text.status, stdout: text.stdout }).toEqual({
      status: 2,
      stdout: expect.stringMatching(
        /^user1: 3 difference\(s\)\n  user1 INBOX: uidnext A=3 B=2\n  user1 INBOX: messages A=2 B=1\n  user1 INBOX: UID 2 .* missing on B\n$/,
      ) as unknown,
    });

    const never = cli('verify', 'user2');
    expect(never.status).toBe(1);
    expect(never.stderr).toMatch(/^dovewarden: user "user2" was never synced to the replica/);

    // Masks and doveadm's formats: one row per difference.
    const tab = cli('-f', 'tab', 'verify', 'user*');
    expect(tab.status).toBe(2);
    expect(tab.stdout.split('\n')[0]).toBe('username\tkind\tdifference');
    expect(tab.stdout).toMatch(/^user1\tmessage-missing\tuser1 INBOX: UID 2 .* missing on B$/m);
    // With the defaults, B is read through its doveadm service, the dsync destination: the
    // same differences, for every synced user.
    env = Object.fromEntries(
      Object.entries(env).filter(([name]) => name !== 'DOVEWARDEN_REPLICA_DOVEADM_URL'),
    );
    const all = cli('verify', '--all', '--json');
    expect(all.status).toBe(2);
    expect((JSON.parse(all.stdout) as { differences: unknown[] }).differences).toEqual(
      report.differences,
    );
    expect(cli('verify', '--all', 'user1').stderr).toMatch(/but not both/);
  });
});
