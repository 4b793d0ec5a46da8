import { spawnSync } from 'node:child_process';
import {
  type Bound,
  type DovecotPair,
  DovewardenProcess,
  SHARED_REDIS,
  buildMessage,
  cliPath,
  configuredPlus,
  convergenceBound,
  deleteNamespace,
  describeWithDovecot,
  dovewardenEnv,
  deliverLmtpTimed,
  expectWithin,
  freePorts,
  hangGuard,
  processStartReferenceSync,
  relativeBound,
  report,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  waitUntil,
  type Reference,
} from '@dovewarden/testkit';

const USERS = ['wait1', 'wait2', 'wait3', 'wait4', 'wait5'];
/** Where the printed config expects the Lua script; replaced by A's own folder. */
const LUA_PLACEHOLDER = '/sync-wait-lua-dir';

interface Delivery {
  recipients: string[];
  messageId: string;
  /** From the end of DATA to the last recipient's reply (the delivery's wait). */
  ms: number;
  codes: number[];
}

async function metric(port: number, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => pattern.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/**
 * Synchronous delivery replication against a real Dovecot 2.4 pair: A runs the config and the
 * Lua hook that `dovewarden dovecot-config` prints, and `dovewarden all` answers its
 * /sync-wait. A delivery's "250" must mean its mail is on B: B is read the moment each
 * answer is in, for every recipient of over a hundred deliveries, some with several recipients
 * and several at once. With the queue paused or B down, the answer still comes by the timeout
 * (plus a calibrated slack), and the mail follows. A killed with SIGKILL right after a "250"
 * leaves the mail on B.
 */
describeWithDovecot('2.4')('synchronous delivery replication (sync-wait)', () => {
  const namespace = uniqueNamespace('e2e-sync-wait');
  let pair: DovecotPair | undefined;
  let proc: DovewardenProcess | undefined;
  let env: Record<string, string> = {};
  let opsPort = 0;
  let nodeStart: Reference;
  /**
   * DOVEWARDEN_SYNC_WAIT_TIMEOUT of this run, relative to this machine (A's config holds it, so
   * it is sized before A starts): generous against a sync here, so none times out.
   */
  let timeout: Bound;

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
      timeout: hangGuard(750).ms,
    });

  /** One LMTP transaction to every recipient; resolves when every reply is in. */
  const deliver = async (recipients: string[], subject: string): Promise<Delivery> => {
    const { raw, messageId } = buildMessage({ subject });
    // Each recipient may wait the whole timeout, one after another.
    const timeoutMs = timeout.ms * recipients.length + hangGuard(250).ms;
    const { codes, ms } = await deliverLmtpTimed(pair!.a, recipients, raw, { timeoutMs });
    return { recipients, messageId, ms, codes };
  };

  /** Whether B holds the message in the user's INBOX now (one doveadm search on B). */
  const onB = async (user: string, messageId: string): Promise<boolean> => {
    const found = await pair!.b.doveadm([
      'search',
      '-u',
      user,
      'mailbox',
      'INBOX',
      'header',
      'Message-ID',
      messageId,
    ]);
    return found.trim() !== '';
  };

  const missingOnB = async (delivery: Delivery): Promise<string[]> => {
    const missing: string[] = [];
    for (const user of delivery.recipients)
      if (!(await onB(user, delivery.messageId))) missing.push(`${user} ${delivery.messageId}`);
    return missing;
  };

  beforeAll(async () => {
    const [httpPort, metricsPort] = await freePorts(2);
    opsPort = metricsPort;
    nodeStart = processStartReferenceSync();
    timeout = relativeBound(nodeStart, 60);
    env = {
      ...dovewardenEnv(namespace),
      DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
      DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
      DOVEWARDEN_INGEST_PASSWORD: 'ingest-pw-28',
      DOVEWARDEN_SYNC_WAIT_TIMEOUT: `${timeout.ms}ms`,
      DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
      DOVEWARDEN_VERIFY_ENABLED: 'false',
      // Retries that outlast B's downtime below (four waits), so that B's return is seen soon.
      DOVEWARDEN_RETRY_BASE_DELAY: '200ms',
      DOVEWARDEN_RETRY_MAX_DELAY: '1s',
      DOVEWARDEN_RETRY_ATTEMPTS: '100',
    };
    const printed = cli(
      'dovecot-config',
      '--url',
      `http://127.0.0.1:${httpPort}/events`,
      '--sync-wait-lua-path',
      `${LUA_PLACEHOLDER}/dovewarden-sync-wait.lua`,
    );
    expect(printed.status).toBe(0);
    expect(printed.stdout).toContain(
      `url = "http://dovecot:ingest-pw-28@127.0.0.1:${httpPort}/sync-wait"`,
    );
    expect(printed.stdout).toContain(`timeout_ms = ${timeout.ms}`);
    const lua = cli('dovecot-config', '--sync-wait-lua');
    expect(lua.status).toBe(0);
    expect(lua.stdout).toContain('function dovecot_lua_notify_end_txn');

    // The printed config, pasted as is into A: Dovecot refuses to start on one it cannot load.
    pair = await startDovecotPair({
      version: '2.4',
      users: USERS,
      extraConfigA: `\n${printed.stdout.replaceAll(LUA_PLACEHOLDER, '{{dir}}')}`,
      extraFilesA: { 'dovewarden-sync-wait.lua': lua.stdout },
    });
    env = { ...env, ...dovewardenEnv(namespace, pair) };
    proc = DovewardenProcess.start({ args: ['all'], env, metricsPort: opsPort });
    await proc.waitUntilReady();
    report(`sync-wait e2e: DOVEWARDEN_SYNC_WAIT_TIMEOUT = ${timeout.why}\n`);
  });

  afterAll(async () => {
    const stopped = await proc?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    expect(stopped?.code).toBe(0);
  });

  it('puts every delivered mail on B before LMTP answers 250', async () => {
    // Four MTAs at once over five users, every fourth delivery to three recipients: users get
    // deliveries concurrently, which then share syncs.
    const lanes = 4;
    const perLane = 22;
    const deliveries: Delivery[] = [];
    const missing: string[] = [];
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = 0; i < perLane; i += 1) {
          const first = (lane + i) % USERS.length;
          const recipients =
            i % 4 === 3
              ? [0, 1, 2].map((offset) => USERS[(first + offset) % USERS.length] ?? 'wait1')
              : [USERS[first] ?? 'wait1'];
          const delivery = await deliver(recipients, `lane ${lane} #${i}`);
          // Read B the moment the answers are in.
          missing.push(...(await missingOnB(delivery)));
          deliveries.push(delivery);
        }
      }),
    );
    const recipientDeliveries = deliveries.reduce((sum, d) => sum + d.recipients.length, 0);
    const multi = deliveries.filter((d) => d.recipients.length > 1).length;
    const times = deliveries.map((d) => d.ms / d.recipients.length).sort((x, y) => x - y);
    report(
      `sync-wait e2e: ${deliveries.length} LMTP transactions (${multi} with 3 recipients), ${recipientDeliveries} deliveries; wait per recipient p50 ${Math.round(times[Math.floor(times.length / 2)] ?? 0)} ms, max ${Math.round(times.at(-1) ?? 0)} ms\n`,
    );
    expect(recipientDeliveries).toBeGreaterThanOrEqual(100);
    expect(deliveries.every((d) => d.codes.every((code) => code === 250))).toBe(true);
    expect(missing).toEqual([]);
    expect(await metric(opsPort, /^dovewarden_sync_wait_total\{outcome="synced"\}/)).toBe(
      recipientDeliveries,
    );
    expect(await metric(opsPort, /^dovewarden_sync_wait_total\{outcome="timeout"\}/)).toBe(0);
    // Each delivery's own event, which Dovecot posts after the 250, asks for no second sync:
    // its session's waits all ended with the mail on B.
    await waitUntil(
      async () =>
        (await metric(
          opsPort,
          /^dovewarden_ingest_events_total\{outcome="filtered",reason="delivery-on-replica"\}/,
        )) === recipientDeliveries,
      await convergenceBound(pair!.a, 'wait1'),
      'every delivery event to be known as already on B',
    );
    expect(
      await metric(
        opsPort,
        /^dovewarden_ingest_events_total\{outcome="accepted",reason="delivery"\}/,
      ),
    ).toBe(0);
    // And B is A, strictly (every UID, GUID, flag, folder and subscription).
    expect((await waitForConvergence(pair!.a, pair!.b, USERS)).differences).toEqual([]);
    expect(pair!.a.logProblems()).toEqual([]);
  });

  it('answers at the timeout while the queue is paused; the mail follows on resume', async () => {
    expect(cli('pause').status).toBe(0);
    try {
      const delivery = await deliver(['wait1'], 'while paused');
      expect(delivery.codes).toEqual([250]);
      // It waited (a paused queue runs no sync), but no longer than the timeout allows.
      expect(delivery.ms).toBeGreaterThanOrEqual(timeout.ms * 0.8);
      expectWithin(delivery.ms, configuredPlus(timeout.ms, nodeStart, 20), 'a paused delivery');
      // The check that the first test relies on sees a mail that is not on B.
      expect(await missingOnB(delivery)).toEqual([`wait1 ${delivery.messageId}`]);
    } finally {
      expect(cli('resume').status).toBe(0);
    }
    expect((await waitForConvergence(pair!.a, pair!.b, USERS)).differences).toEqual([]);
    expect(
      await metric(opsPort, /^dovewarden_sync_wait_total\{outcome="timeout"\}/),
    ).toBeGreaterThanOrEqual(1);
  });

  it('answers every delivery by the timeout while B is down; the mail reaches B once it is back', async () => {
    await pair!.b.halt();
    const delivered: Delivery[] = [];
    try {
      for (const recipients of [['wait2'], ['wait3', 'wait4'], ['wait5']]) {
        const delivery = await deliver(recipients, `while B is down, to ${recipients.join(' ')}`);
        expect(delivery.codes).toEqual(recipients.map(() => 250));
        // Several recipients of one transaction wait one after another.
        expectWithin(
          delivery.ms,
          configuredPlus(timeout.ms * recipients.length, nodeStart, 20),
          `a delivery to ${recipients.length} recipient(s) with B down`,
        );
        delivered.push(delivery);
      }
    } finally {
      await pair!.b.resume();
    }
    expect((await waitForConvergence(pair!.a, pair!.b, USERS)).differences).toEqual([]);
    for (const delivery of delivered) expect(await missingOnB(delivery)).toEqual([]);
  });

  it('leaves the mail on B when A is killed (SIGKILL, master and children) right after 250', async () => {
    const delivery = await deliver(['wait1', 'wait2'], 'just before A died');
    for (const pid of pair!.a.processes()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    expect(delivery.codes).toEqual([250, 250]);
    await waitUntil(() => !pair!.a.running, hangGuard(50), 'A to be dead');
    expect(await missingOnB(delivery)).toEqual([]);
  });
});
