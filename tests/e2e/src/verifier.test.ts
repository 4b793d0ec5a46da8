import { spawnSync } from 'node:child_process';
import {
  type DovecotPair,
  DovewardenProcess,
  SHARED_REDIS,
  buildMessage,
  cliPath,
  compareMailboxes,
  convergenceBound,
  deleteNamespace,
  describeWithDovecot,
  dovewardenEnv,
  freePorts,
  hangGuard,
  relativeBound,
  nodeStartReference,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  waitUntil,
} from '@dovewarden/testkit';
import { VerificationLedger, createRedis } from '@dovewarden/shared';

/** The users, one per way B is made to differ from A (directly on B, with doveadm). */
const KINDS = {
  flags: 'flags',
  expunged: 'message-missing',
  uids: 'uid-guid',
  deleted: 'folder-missing',
  made: 'folder-extra',
  subscribed: 'subscription-extra',
  unsubscribed: 'subscription-missing',
  recreated: 'mailbox-guid',
  // A expunged it (doveadm on A: no event): B still has it.
  aexpunged: 'message-extra',
  bonly: 'message-extra',
} as const;
type Case = keyof typeof KINDS;
const USERS = Object.keys(KINDS) as Case[];
const REPAIRED = USERS.filter((user) => user !== 'bonly');

/**
 * The background verifier against a real Dovecot 2.4 pair and `dovewarden all` with its
 * defaults but for a short walk interval: B is made to differ from A in each kind, directly on
 * B with doveadm (and one expunge on A), with no event, so only the verifier can notice. Every
 * kind is detected within a pass, counted by kind, and repaired (B equal to A strictly), except
 * mail on B alone, which is reported and kept.
 */
describeWithDovecot('2.4')('the background verifier', () => {
  const namespace = uniqueNamespace('e2e-verifier');
  let pair: DovecotPair | undefined;
  let proc: DovewardenProcess | undefined;
  let env: Record<string, string> = {};
  let opsPort = 0;

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
      timeout: hangGuard(750).ms,
    });
  const metrics = async (): Promise<string> =>
    (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const counter = (text: string, name: string, label: string, value: string): number => {
    const line = text.split('\n').find((row) => row.startsWith(`${name}{${label}="${value}"}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };
  const onB = (args: string[], options: { input?: string } = {}) => pair!.b.doveadm(args, options);

  beforeAll(async () => {
    const [httpPort, metricsPort] = await freePorts(2);
    opsPort = metricsPort ?? 0;
    pair = await startDovecotPair({
      version: '2.4',
      users: USERS,
      eventsUrl: `http://127.0.0.1:${httpPort}/events`,
    });
    for (const user of USERS) {
      await pair.a.doveadm(['mailbox', 'create', '-u', user, 'Work']);
      await pair.a.doveadm(['mailbox', 'subscribe', '-u', user, 'Work']);
      for (let i = 1; i <= 3; i += 1) {
        const { raw } = buildMessage({ subject: `${user} ${i}`, to: `${user}@example.com` });
        await pair.a.doveadm(['save', '-u', user, '-m', 'INBOX'], { input: raw });
      }
    }
    env = dovewardenEnv(namespace, pair);
    proc = DovewardenProcess.start({
      args: ['all'],
      env: {
        ...env,
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
        DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
        DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
        DOVEWARDEN_VERIFY_INTERVAL: '2s',
        DOVEWARDEN_VERIFY_CALLS_PER_SECOND: '50',
      },
      metricsPort: opsPort,
    });
    await proc.waitUntilReady();
    for (const user of USERS) expect(cli('replicate', user).status).toBe(0);
    expect((await waitForConvergence(pair.a, pair.b, USERS)).differences).toEqual([]);
  });

  afterAll(async () => {
    const stopped = await proc?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    expect(stopped?.code).toBe(0);
  });

  it(
    'detects each kind of difference made on B, counts it by kind, and repairs all but mail on B alone',
    async () => {
      // A walk over users that are all equal first: nothing counted as a divergence.
      const unit = await nodeStartReference();
      await waitUntil(
        async () =>
          counter(await metrics(), 'dovewarden_verify_users_total', 'result', 'equal') >=
          USERS.length,
        relativeBound(unit, 400),
        'a first verification walk over every user',
      );
      expect(await metrics()).not.toMatch(/dovewarden_replica_divergences_total\{/);

      // No walk while B is being changed: the test holds the walkers' lock meanwhile (a walk
      // then finds it taken and skips), so that every change is seen before any repair.
      const redis = createRedis(SHARED_REDIS, 'wait-for-redis', 'verifier-test');
      const ledger = new VerificationLedger(redis, namespace);
      let token: string | undefined;
      await waitUntil(
        async () => (token = await ledger.acquireLock(60_000)) !== undefined,
        relativeBound(unit, 400),
        'the walk in progress to end',
      );

      await onB([
        'flags',
        'add',
        '-u',
        'flags',
        '\\Flagged $Later',
        'mailbox',
        'INBOX',
        'uid',
        '1',
      ]);
      await onB(['expunge', '-u', 'expunged', 'mailbox', 'INBOX', 'uid', '2']);
      // The same UID of Work holds another of A's messages on each side: no mail of B's own.
      await onB(['copy', '-u', 'uids', 'Work', 'mailbox', 'INBOX', 'uid', '1']);
      await pair!.a.doveadm(['copy', '-u', 'uids', 'Work', 'mailbox', 'INBOX', 'uid', '2']);
      await onB(['mailbox', 'delete', '-u', 'deleted', 'Work']);
      await onB(['mailbox', 'create', '-u', 'made', 'Extra']);
      await onB(['mailbox', 'subscribe', '-u', 'subscribed', 'INBOX']);
      await onB(['mailbox', 'unsubscribe', '-u', 'unsubscribed', 'Work']);
      await onB(['mailbox', 'delete', '-u', 'recreated', 'Work']);
      await onB(['mailbox', 'create', '-u', 'recreated', 'Work']);
      await pair!.a.doveadm(['expunge', '-u', 'aexpunged', 'mailbox', 'INBOX', 'uid', '2']);
      const { raw } = buildMessage({ subject: 'delivered to B alone', to: 'bonly@example.com' });
      await onB(['save', '-u', 'bonly', '-m', 'INBOX'], { input: raw });
      for (const user of USERS) {
        expect((await compareMailboxes(pair!.a, pair!.b, user)).differences).not.toEqual([]);
      }
      await ledger.releaseLock(token ?? '');
      await redis.quit();
      const changedAt = Date.now();

      // Repaired: B equal to A strictly, for every kind but B's own mail.
      const bound = await convergenceBound(pair!.a, 'flags');
      expect(
        (await waitForConvergence(pair!.a, pair!.b, REPAIRED, relativeBound(unit, 600)))
          .differences,
      ).toEqual([]);
      console.log(
        `verifier e2e: B equal to A for ${REPAIRED.length} users ${Date.now() - changedAt} ms after the changes`,
      );
      const text = await metrics();
      const uncounted = USERS.map((user) => KINDS[user]).filter(
        (kind) => counter(text, 'dovewarden_replica_divergences_total', 'kind', kind) === 0,
      );
      expect({ uncounted }).toEqual({ uncounted: [] });
      expect(
        counter(text, 'dovewarden_verify_users_total', 'result', 'repaired'),
      ).toBeGreaterThanOrEqual(REPAIRED.length);

      // Mail on B alone: reported and kept, never repaired away.
      await waitUntil(
        async () =>
          counter(await metrics(), 'dovewarden_verify_users_total', 'result', 'replica-only-mail') >
          0,
        bound,
        'the verifier to report the mail on B alone',
      );
      const left = await compareMailboxes(pair!.a, pair!.b, 'bonly');
      expect(left.differences).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^bonly INBOX: UID 4 \(GUID \w+\) only on B$/),
        ]),
      );
      expect(await metrics()).toMatch(/^dovewarden_replica_users_differing 1$/m);
      const status = cli('status', 'bonly');
      expect(status.stdout).toMatch(/verification\s+differs since .*only mail on B alone, kept/);
      // A was never written to: it holds exactly what it held, plus its own copy into Work.
      expect(
        (await pair!.a.doveadm(['mailbox', 'status', '-u', 'bonly', 'messages', 'INBOX'])).trim(),
      ).toBe('INBOX messages=3');
      // A hang guard: a pair, a dovewarden, and about 60 Doveadm calls and 20 syncs on two cores.
    },
    hangGuard(4000).ms,
  );
});
