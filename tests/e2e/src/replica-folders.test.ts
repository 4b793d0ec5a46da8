import { spawnSync } from 'node:child_process';
import {
  type DovecotPair,
  type DovecotServer,
  DovewardenProcess,
  SHARED_REDIS,
  appendMessage,
  cliPath,
  closeImap,
  compareMailboxes,
  connectImap,
  deleteNamespace,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  hangGuard,
  nodeStartReference,
  relativeBound,
  sleep,
  startDovecotPair,
  uniqueNamespace,
  waitUntil,
} from '@dovewarden/testkit';
import { StateKeys, createRedis } from '@dovewarden/shared';

/**
 * The strict comparison of B with A must find exactly what reached B alone, nothing else: no
 * subscription A never had, no other folder, no other UID, flag or GUID.
 */
async function expectOnlyBOnlyMail(pair: DovecotPair, expected: RegExp[]): Promise<void> {
  const { differences } = await compareMailboxes(pair.a, pair.b, 'user1');
  expect(differences).toEqual(
    expected.map((pattern): unknown => expect.stringMatching(pattern) as unknown),
  );
}

/** What the message that reached B's INBOX alone makes the strict comparison say. */
const B_ONLY_INBOX = [
  /^user1 INBOX: uidnext A=1 B=2$/,
  /^user1 INBOX: messages A=0 B=1$/,
  /^user1 INBOX: UID 1 \(GUID \w+\) only on B$/,
];

/** The user's folders as doveadm lists them: "name guid=… messages=…", sorted. */
async function folders(server: DovecotServer, user: string): Promise<string[]> {
  const out = await server.doveadm(['mailbox', 'status', '-u', user, 'guid messages', '*']);
  return out.trim().split('\n').sort();
}

/**
 * dsync -1 keeps a folder's old name on B for good when B's rename looks newer than A's (a
 * folder renamed on A twice within a second while a sync ran). Here B's rename is made by
 * hand, a second after A's: the same state, every time. The worker puts A's name back on B
 * after a full sync (through B's doveadm service, with the default settings), and mail that
 * reached B alone stays there.
 */
describeWithDovecot('2.4')('folders on the replica (one-way sync)', () => {
  let pair: DovecotPair | undefined;
  let worker: DovewardenProcess | undefined;
  const namespace = uniqueNamespace('e2e-folder-names');
  const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'folder-names-test');
  const keys = new StateKeys(namespace);
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
    await redis.quit();
    await deleteNamespace(SHARED_REDIS, namespace);
  });

  /**
   * Queues a sync with the CLI and waits until the worker records the user synced: after the
   * folder repair (a destination's own success mark is written before it).
   */
  async function replicate(...args: string[]): Promise<void> {
    const before = await redis.zscore(keys.lastSuccess, 'user1');
    const queued = cli('replicate', ...args, 'user1');
    expect({ status: queued.status, stderr: queued.stderr }).toEqual({ status: 0, stderr: '' });
    await waitUntil(
      async () => (await redis.zscore(keys.lastSuccess, 'user1')) !== before,
      relativeBound(await nodeStartReference(), 40),
      'the worker to record the sync of user1',
    );
  }

  it("puts A's folder name back on B, and keeps B's own mail", async () => {
    const [deadPort, opsPort] = await freePorts(2);
    pair = await startDovecotPair({
      version: '2.4',
      users: ['user1'],
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
    // Default settings: the worker reaches B's doveadm service, its dsync destination.
    env = dovewardenEnv(namespace, pair);
    worker = DovewardenProcess.start({
      args: ['worker'],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}` },
      metricsPort: opsPort,
    });
    await worker.waitUntilReady();
    const { a, b } = pair;

    // Subscribed on A, so that the subscription has to follow the renames below.
    await a.doveadm(['mailbox', 'create', '-s', '-u', 'user1', 'Proj']);
    const onA = await connectImap(a, 'user1');
    await appendMessage(onA, 'Proj', { subject: 'in the project' });
    await closeImap(onA);
    await replicate();
    expect(await folders(b, 'user1')).toEqual(await folders(a, 'user1'));
    expect((await compareMailboxes(a, b, 'user1')).differences).toEqual([]);

    // Mail that reached B alone (as in a failover): it must survive all of this.
    const onB = await connectImap(b, 'user1');
    await appendMessage(onB, 'INBOX', { subject: 'only on B' });
    await closeImap(onB);
    const subjectsOnB = () =>
      b.doveadm(['fetch', '-u', 'user1', 'hdr.subject', 'mailbox', 'INBOX']);
    expect(await subjectsOnB()).toContain('only on B');

    await a.doveadm(['mailbox', 'rename', '-u', 'user1', 'Proj', 'Proj2']);
    // dsync compares rename times in whole seconds: B's must be the later one.
    await sleep(1100);
    await b.doveadm(['mailbox', 'rename', '-u', 'user1', 'Proj', 'ProjB']);

    // dsync -1 alone keeps B's name: an incremental sync does not compare names. On 2.4.1 this
    // sync's run meets the conflict with exit 2, the run after an exit 2 is a full sync, and the
    // repair follows it. Either way B's name changes through the repair only, never by dsync.
    await replicate();
    const repairLogged = () => worker!.output.join('\n').includes('ProjB -> Proj2');
    if ((await folders(b, 'user1')).some((line) => line.startsWith('ProjB ')))
      expect(repairLogged()).toBe(false);
    else
      await waitUntil(
        () => Promise.resolve(repairLogged()),
        relativeBound(await nodeStartReference(), 10),
        'the worker to log the rename it made on B',
      );

    // A full sync (as every DOVEWARDEN_FULL_SYNC_INTERVAL, or after a rename event) repairs it.
    await replicate('--full');
    const namesOnA = await folders(a, 'user1');
    const namesOnB = await folders(b, 'user1');
    expect(namesOnB.filter((line) => !line.startsWith('INBOX '))).toEqual(
      namesOnA.filter((line) => !line.startsWith('INBOX ')),
    );
    expect(await subjectsOnB()).toContain('only on B');
    // A was never written to.
    expect(namesOnA.some((line) => line.startsWith('Proj2 '))).toBe(true);
    expect(worker.output.join('\n')).toContain('ProjB -> Proj2');
    // Subscriptions included: the repair's rename on B must not subscribe what A has not.
    await expectOnlyBOnlyMail(pair, B_ONLY_INBOX);
  });
  it('removes a folder on B that A never had and that never held a message; one with mail stays', async () => {
    const { a, b } = pair!;
    // A folder with neither A's GUID nor A's name that never held mail is what dsync -1 makes
    // on B from a folder A lists without its GUID (docs/reliability.md, scenario 12).
    await b.doveadm(['mailbox', 'create', '-u', 'user1', 'NeverUsedOnB']);
    await b.doveadm(['mailbox', 'create', '-u', 'user1', 'UsedOnB']);
    const onB = await connectImap(b, 'user1');
    await appendMessage(onB, 'UsedOnB', { subject: 'reached B alone' });
    await closeImap(onB);

    await replicate('--full');
    const namesOnB = await folders(b, 'user1');
    expect(namesOnB.some((line) => line.startsWith('UsedOnB '))).toBe(true);
    expect(namesOnB.some((line) => line.startsWith('NeverUsedOnB '))).toBe(false);
    await waitUntil(
      () => Promise.resolve(worker!.output.join('\n').includes('delete NeverUsedOnB')),
      relativeBound(await nodeStartReference(), 10),
      'the worker to log the delete it made on B',
    );
    // A was never written to.
    const namesOnA = await folders(a, 'user1');
    expect(namesOnA.some((line) => /^(UsedOnB|NeverUsedOnB) /.test(line))).toBe(false);
    await expectOnlyBOnlyMail(pair!, [...B_ONLY_INBOX, /^user1 UsedOnB: folder only on B$/]);
  });
});
