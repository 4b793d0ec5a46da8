import { spawnSync } from 'node:child_process';
import {
  type DovecotPair,
  DoveadmTcpProxy,
  DovewardenProcess,
  SHARED_REDIS,
  appendMessage,
  buildMessage,
  cliPath,
  closeImap,
  compareMailboxes,
  connectImap,
  convergenceBound,
  deleteNamespace,
  deliverLmtp,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  hangGuard,
  snapshotUser,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  waitUntil,
} from '@dovewarden/testkit';
import { ReplicaServiceLedger, StateKeys, createRedis, findFolder } from '@dovewarden/shared';

/**
 * DOVEWARDEN_SYNC_MODE=backup against a real Dovecot 2.4 pair, with `dovewarden all` and both
 * servers posting their events to its ingest (B's with `?server=replica`): B is made a mirror of
 * A (a folder B renamed on its own gets A's name back, which `sync -1` never does), and a user
 * B served is known from B's own events, synced one-way so that B's mail survives, until
 * `dovewarden failback` merges it into A and backups resume.
 */
describeWithDovecot('2.4')('the backup sync mode', () => {
  const user = 'user1';
  const namespace = uniqueNamespace('e2e-backup-mode');
  const keys = new StateKeys(namespace);
  const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'backup-mode-test');
  const ledger = new ReplicaServiceLedger(redis, keys);
  let pair: DovecotPair | undefined;
  let proxy: DoveadmTcpProxy | undefined;
  let proc: DovewardenProcess | undefined;
  let env: Record<string, string> = {};

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
      timeout: hangGuard(750).ms,
    });
  const inboxGuids = async (on: 'a' | 'b'): Promise<string[]> => {
    const inbox = findFolder(await snapshotUser(pair![on], user), 'INBOX');
    return inbox?.selectable === true ? inbox.messages.map((message) => message.guid) : [];
  };
  /** A change on A through IMAP, whose event makes the worker sync. */
  const appendOnA = async (subject: string): Promise<void> => {
    const imap = await connectImap(pair!.a, user);
    await appendMessage(imap, 'INBOX', { subject });
    await closeImap(imap);
  };
  /** The commands of the syncs that ran since `from`. */
  const commandsSince = (from: number): string[] =>
    proxy!.syncs.slice(from).map((sync) => sync.command);

  beforeAll(async () => {
    const [httpPort, opsPort] = await freePorts(2);
    pair = await startDovecotPair({
      version: '2.4',
      users: [user],
      eventsUrl: `http://127.0.0.1:${httpPort}/events`,
      replicaEventsUrl: `http://127.0.0.1:${httpPort}/events?server=replica`,
    });
    proxy = await DoveadmTcpProxy.start(pair.a.doveadmTcpPort);
    env = {
      ...dovewardenEnv(namespace, pair),
      DOVEWARDEN_DOVEADM_TCP_ADDR: proxy.addr,
      DOVEWARDEN_SYNC_MODE: 'backup',
    };
    proc = DovewardenProcess.start({
      args: ['all'],
      env: {
        ...env,
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
        DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
        DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
      },
      metricsPort: opsPort,
    });
    await proc.waitUntilReady();
  });

  afterAll(async () => {
    const stopped = await proc?.stop();
    await proxy?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    await redis.quit();
    expect(stopped?.code).toBe(0);
  });

  it('makes B a mirror of A, keeps what B served until failback, then mirrors again', async () => {
    // (1) A's changes reach B by backup, and B equals A strictly.
    await pair!.a.doveadm(['mailbox', 'create', '-u', user, 'Projects']);
    await appendOnA('first, from A');
    expect((await waitForConvergence(pair!.a, pair!.b, [user])).differences).toEqual([]);
    expect(commandsSince(0)).not.toHaveLength(0);
    expect(new Set(commandsSince(0))).toEqual(new Set(['backup']));

    // (2) B renames a folder on its own (doveadm on B: no event): a later change on A makes
    // the backup put A's name back.
    await pair!.b.doveadm(['mailbox', 'rename', '-u', user, 'Projects', 'Elsewhere']);
    expect((await compareMailboxes(pair!.a, pair!.b, user)).differences).not.toEqual([]);
    await appendOnA('second, from A');
    expect((await waitForConvergence(pair!.a, pair!.b, [user])).differences).toEqual([]);

    // (3) Failover: mail is delivered to B. B's own event tells ingest that B served the user.
    const bound = await convergenceBound(pair!.a, user);
    await deliverLmtp(pair!.b, user, buildMessage({ subject: 'delivered to B' }).raw);
    await waitUntil(
      async () => (await ledger.servedSince(user)) !== undefined,
      bound,
      "B's delivery event to mark the user as served by B",
    );
    const onA = await inboxGuids('a');
    const bOnlyMail = (await inboxGuids('b')).filter((guid) => !onA.includes(guid));
    expect(bOnlyMail).toHaveLength(1);
    const bOnly = bOnlyMail[0] ?? '-';

    // A change on A now runs a one-way sync, which keeps B's mail: no backup for this user.
    const beforeHeld = proxy!.syncs.length;
    await appendOnA('third, from A, while B holds mail of its own');
    await waitUntil(
      () =>
        Promise.resolve(
          proxy!.syncs.length > beforeHeld && proxy!.syncs.at(-1)?.status !== undefined,
        ),
      bound,
      'a sync of the user after the change on A',
    );
    expect(new Set(commandsSince(beforeHeld))).toEqual(new Set(['sync']));
    expect(proxy!.syncs.at(-1)?.args).toContain('-1');
    expect(await inboxGuids('b')).toContain(bOnly);
    expect(cli('status', user).stdout).toMatch(/served by the replica since/);

    // (4) Failback merges B's mail into A and forgets the mark; backups resume, B equals A.
    const failback = cli('failback', user);
    expect(failback.status).toBe(0);
    expect(await ledger.servedSince(user)).toBeUndefined();
    expect(await inboxGuids('a')).toContain(bOnly);
    const afterFailback = proxy!.syncs.length;
    await appendOnA('fourth, from A, after failback');
    expect((await waitForConvergence(pair!.a, pair!.b, [user])).differences).toEqual([]);
    expect(new Set(commandsSince(afterFailback))).toEqual(new Set(['backup']));
    expect(await inboxGuids('b')).toContain(bOnly);
  });
});
