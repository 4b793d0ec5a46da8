import { spawnSync } from 'node:child_process';
import {
  type DovecotPair,
  type DovecotServer,
  DovewardenProcess,
  SHARED_REDIS,
  addFlags,
  appendMessage,
  buildMessage,
  cliPath,
  closeImap,
  compareMailboxes,
  connectImap,
  deleteNamespace,
  deliverLmtp,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  hangGuard,
  nodeStartReference,
  relativeBound,
  snapshotUser,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  waitUntil,
} from '@dovewarden/testkit';
import { StateKeys, SyncQueue, createRedis, findFolder } from '@dovewarden/shared';

/** Message GUID → flags of one user's INBOX, read with doveadm on the server itself. */
async function inboxFlags(server: DovecotServer, user: string): Promise<Map<string, string>> {
  const output = await server.doveadm([
    '-f',
    'tab',
    'fetch',
    '-u',
    user,
    'guid flags',
    'mailbox',
    'INBOX',
    'all',
  ]);
  const rows = output.split('\n').filter((line) => line !== '');
  const header = rows.shift()?.split('\t') ?? [];
  const guid = header.indexOf('guid');
  const flags = header.indexOf('flags');
  return new Map(
    rows.map((row) => {
      const cells = row.split('\t');
      // \Recent is per session and server, not replicated.
      const set = (cells[flags] ?? '')
        .split(' ')
        .filter((flag) => flag !== '' && flag !== '\\Recent')
        .sort();
      return [cells[guid] ?? '', set.join(' ')];
    }),
  );
}

async function inboxGuids(server: DovecotServer, user: string): Promise<string[]> {
  const inbox = findFolder(await snapshotUser(server, user), 'INBOX');
  return inbox?.selectable === true ? inbox.messages.map((message) => message.guid).sort() : [];
}

/**
 * `dovewarden failback` against a real Dovecot 2.4 pair and a real worker process, in one-way
 * mode (the default): mail that reached B alone during a failover survives one-way syncs but
 * never reaches A through them; failback merges it, and B's flag change, into A, leaves A and
 * B equal, and hands the queue back to the worker.
 */
describeWithDovecot('2.4')('dovewarden failback', () => {
  let pair: DovecotPair | undefined;
  let worker: DovewardenProcess | undefined;
  const namespace = uniqueNamespace('e2e-failback');
  const keys = new StateKeys(namespace);
  const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'failback-test');
  const syncQueue = new SyncQueue(redis, namespace);
  let env: Record<string, string> = {};
  const cli = (...args: string[]) => {
    const result = spawnSync(process.execPath, [cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
      // A hang guard: 750 bare node process starts on this machine.
      timeout: hangGuard(750).ms,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const lastSuccess = async (): Promise<number> =>
    Number((await redis.zscore(keys.lastSuccessAt(pair!.b.dsyncDestination), 'user1')) ?? 0);
  /** `dovewarden replicate user1`, then waits for the worker to record a newer success. */
  const replicateOnce = async (): Promise<void> => {
    const before = await lastSuccess();
    expect(cli('replicate', 'user1')).toMatchObject({ status: 0 });
    await waitUntil(
      async () => (await lastSuccess()) > before,
      relativeBound(await nodeStartReference(), 20),
      'the worker to record a new success of user1',
    );
  };

  afterAll(async () => {
    expect((await worker?.stop())?.code).toBe(0);
    await pair?.stop();
    await syncQueue.close();
    await deleteNamespace(SHARED_REDIS, namespace);
    await redis.quit();
  });

  it('merges mail and flags that reached B alone into A, after which A == B and one-way resumes', async () => {
    const [deadPort, opsPort] = await freePorts(2);
    // No ingest: nothing syncs unless the test asks for it.
    pair = await startDovecotPair({
      version: '2.4',
      users: ['user1'],
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
    env = dovewardenEnv(namespace, pair);
    worker = DovewardenProcess.start({
      args: ['worker'],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}` },
      metricsPort: opsPort,
    });
    await worker.waitUntilReady();

    // (1) A → B one-way, by the worker.
    const imapA = await connectImap(pair.a, 'user1');
    await appendMessage(imapA, 'INBOX', { subject: 'first, from A' });
    await appendMessage(imapA, 'INBOX', { subject: 'second, from A' });
    await closeImap(imapA);
    await replicateOnce();
    expect((await compareMailboxes(pair.a, pair.b, 'user1')).differences).toEqual([]);
    const onAAtFailover = await snapshotUser(pair.a, 'user1');

    // (2) Failover: B serves user1. Mail is delivered to B alone, and a flag is set there.
    await deliverLmtp(pair.b, 'user1', buildMessage({ subject: 'delivered to B' }).raw);
    const imapB = await connectImap(pair.b, 'user1');
    await addFlags(imapB, 'INBOX', '1', ['\\Flagged']);
    await closeImap(imapB);
    const onB = await inboxGuids(pair.b, 'user1');
    const onA = await inboxGuids(pair.a, 'user1');
    const bOnly = onB.filter((guid) => !onA.includes(guid));
    expect(bOnly).toHaveLength(1);
    const [firstGuid] = [...(await inboxFlags(pair.a, 'user1')).keys()];

    // (3) One more one-way sync from A: B keeps its own mail, and A is left exactly as it was.
    await replicateOnce();
    expect(await inboxGuids(pair.b, 'user1')).toEqual(expect.arrayContaining(bOnly));
    expect(await snapshotUser(pair.a, 'user1')).toEqual(onAAtFailover);
    // A flag set on B after the last sync must reach A too: set one now, as users on B would.
    const imapB2 = await connectImap(pair.b, 'user1');
    await addFlags(imapB2, 'INBOX', '2', ['\\Answered']);
    await closeImap(imapB2);

    // (4) Failback: A gets B's message and flags; A and B are equal afterwards.
    const failback = cli('failback', 'user1');
    expect(failback).toEqual({
      status: 0,
      stdout:
        'replication paused: running syncs finish, no new one starts\n' +
        'user1: ok\n' +
        'failback: 1 ok, 0 failed\n' +
        'replication resumed\n',
      stderr: '',
    });
    expect(await inboxGuids(pair.a, 'user1')).toEqual(expect.arrayContaining(bOnly));
    expect((await compareMailboxes(pair.a, pair.b, 'user1')).differences).toEqual([]);
    const flagsOnA = await inboxFlags(pair.a, 'user1');
    const flagsOnB = await inboxFlags(pair.b, 'user1');
    expect(flagsOnA).toEqual(flagsOnB);
    const secondGuid = [...flagsOnA.keys()].find(
      (guid) => guid !== firstGuid && !bOnly.includes(guid),
    );
    expect(flagsOnA.get(firstGuid ?? '')).toMatch(/\\Flagged/);
    expect(flagsOnA.get(secondGuid ?? '')).toMatch(/\\Answered/);

    // (5) The queue is resumed, and the worker replicates one-way from A again.
    expect(await syncQueue.queue.isPaused()).toBe(false);
    const imapA2 = await connectImap(pair.a, 'user1');
    await appendMessage(imapA2, 'INBOX', { subject: 'after failback, on A' });
    await closeImap(imapA2);
    await replicateOnce();
    expect((await waitForConvergence(pair.a, pair.b, ['user1'])).differences).toEqual([]);

    // A queue paused beforehand (dovewarden pause at failover) stays paused until resume.
    expect(cli('pause')).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^replication paused/) as unknown,
    });
    const whilePaused = cli('failback', 'user1');
    expect(whilePaused.status).toBe(0);
    expect(whilePaused.stdout).toMatch(
      /^user1: ok\nfailback: 1 ok, 0 failed\nreplication stays paused, as it was before/,
    );
    expect(await syncQueue.queue.isPaused()).toBe(true);
    expect(cli('resume')).toEqual({ status: 0, stdout: 'replication resumed\n', stderr: '' });
    expect(await syncQueue.queue.isPaused()).toBe(false);
  });

  it('refuses bad input with one line on stderr and a non-zero exit, pausing nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['failback'], /^dovewarden: name users, or give --all, but not both\n$/],
      [['failback', 'user1', '--all'], /^dovewarden: name users, or give --all, but not both\n$/],
      [['failback', '--bogus', 'user1'], /^dovewarden: Unknown argument: bogus\n$/],
      [['failback', '--all'], /^dovewarden: fail back 1 user\(s\): .*; confirm with --yes\n$/],
    ];
    for (const [args, stderr] of cases) {
      const result = cli(...args);
      expect({ args, status: result.status, stdout: result.stdout }).toEqual({
        args,
        status: 1,
        stdout: '',
      });
      expect(result.stderr).toMatch(stderr);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(await syncQueue.queue.isPaused()).toBe(false);
  });
});
