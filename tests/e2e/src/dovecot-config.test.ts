import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import {
  type DovecotServer,
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
  type DovecotPair,
  dovewardenEnv,
  convergenceBound,
  hangGuard,
  sleep,
  waitUntil,
} from '@dovewarden/testkit';

/** Raw IMAP, because imapflow always fetches with BODY.PEEK and never sets \Seen. */
async function imapSession(
  server: DovecotServer,
  user: string,
  commands: string[],
): Promise<string> {
  const socket = createConnection({ host: '127.0.0.1', port: server.imapPort });
  socket.setEncoding('utf8');
  let transcript = '';
  socket.on('data', (chunk: string) => {
    transcript += chunk;
  });
  // A hang guard on one IMAP reply: 150 bare node process starts on this machine.
  const guard = hangGuard(150);
  const waitFor = (pattern: RegExp): Promise<number> =>
    waitUntil(
      () => pattern.test(transcript),
      guard,
      () => `IMAP ${pattern} in ${transcript}`,
      10,
    );
  await waitFor(/^\* OK/m);
  const all = [`LOGIN ${user} ${server.passwordOf(user)}`, ...commands, 'LOGOUT'];
  for (const [index, command] of all.entries()) {
    socket.write(`t${index} ${command}\r\n`);
    await waitFor(new RegExp(`^t${index} (OK|NO|BAD)`, 'm'));
  }
  socket.end();
  return transcript;
}

async function metric(port: number, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => pattern.test(candidate));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/**
 * The printed config is pasted into a real Dovecot as is: it must load, and the events it
 * makes Dovecot send must reach ingest through its Basic auth, FETCH BODY[] included.
 */
for (const version of ['2.4', '2.3'] as const) {
  describeWithDovecot(version)(`dovewarden dovecot-config on Dovecot ${version}`, () => {
    let pair: DovecotPair | undefined;
    let ingest: DovewardenProcess | undefined;
    const namespace = uniqueNamespace(`e2e-conf-${version.replace('.', '')}`);

    afterAll(async () => {
      const stopped = await ingest?.stop();
      await pair?.stop();
      await deleteNamespace(SHARED_REDIS, namespace);
      expect(stopped?.code).toBe(0);
    });

    it('loads in Dovecot and delivers events to an ingest that requires auth', async () => {
      const [httpPort, opsPort] = await freePorts(2);
      const env = {
        ...dovewardenEnv(namespace),
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
        DOVEWARDEN_INGEST_PASSWORD: 'ingest-pw-123',
      };
      ingest = DovewardenProcess.start({ args: ['ingest'], env, metricsPort: opsPort });
      await ingest.waitUntilReady();

      const printed = spawnSync(
        process.execPath,
        [cliPath(), 'dovecot-config', '--dovecot-version', version],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
          encoding: 'utf8',
        },
      );
      expect(printed.status).toBe(0);
      expect(printed.stdout).toContain(`http://dovecot:ingest-pw-123@127.0.0.1:${httpPort}/events`);

      // Dovecot refuses to start on a config it cannot parse, so starting is the syntax check.
      pair = await startDovecotPair({
        version,
        users: ['user1'],
        extraConfigA: `\n${printed.stdout}`,
      });
      const imap = await connectImap(pair.a, 'user1');
      await appendMessage(imap, 'INBOX', { subject: 'configured' });
      await closeImap(imap);
      await imapSession(pair.a, 'user1', [
        'SELECT INBOX',
        'FETCH 1 (BODY.PEEK[])',
        'FETCH 1 (FLAGS)',
        'FETCH 1 (BODY[])',
      ]);

      const accepted = (): Promise<number> =>
        metric(opsPort, /^dovewarden_ingest_events_total\{outcome="accepted",reason="imap"\}/);
      // APPEND and FETCH BODY[]: the peeking and flag-only FETCHes are not even sent.
      // Events reach ingest as fast as a change reaches B (convergenceBound), or faster.
      await waitUntil(
        async () => (await accepted()) >= 2,
        await convergenceBound(pair.a, 'user1'),
        'ingest to accept the APPEND and FETCH BODY[] events',
        50,
      );
      await sleep(300);
      expect(await accepted()).toBe(2);
      expect(await metric(opsPort, /outcome="rejected",reason="unauthorised"/)).toBe(0);
      expect(await metric(opsPort, /reason="fetch-without-seen"/)).toBe(0);
      expect(pair.a.logProblems()).toEqual([]);
    });
  });
}
