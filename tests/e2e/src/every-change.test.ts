import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { ImapFlow } from 'imapflow';
import {
  type DovecotPair,
  type DovecotServer,
  DovewardenProcess,
  SHARED_REDIS,
  addFlags,
  appendMessage,
  buildMessage,
  closeImap,
  connectImap,
  createMailbox,
  deleteMailbox,
  deleteNamespace,
  deliverLmtp,
  describeWithDovecot,
  freePorts,
  listSubjects,
  renameMailbox,
  startDovecotPair,
  uniqueNamespace,
  waitForConvergence,
  dovewardenEnv,
  convergenceBound,
} from '@dovewarden/testkit';

/**
 * Every kind of mailbox change a client can make on Dovecot 2.4 A reaches B, driven by events
 * alone: background replication is off, so a change whose event is lost or filtered out never
 * converges. Each `it` makes one change and checks it twice: waitForConvergence (messages,
 * uidnext, uidvalidity, GUIDs) and a specific look at B, since the comparison sees neither
 * flags nor subscriptions. The `it` blocks build on each other and run in order.
 *
 * Where imapflow would send more than the one command under test (its mailboxCreate also
 * SUBSCRIBEs, its messageDelete also STOREs \Deleted), the command goes over a raw IMAP
 * connection instead, so that no other event can mask a change that does not replicate.
 */
describeWithDovecot('2.4')('every kind of change on Dovecot 2.4 A reaches B', () => {
  const user = 'user1';
  const namespace = uniqueNamespace('e2e-every');
  const timings: string[] = [];
  let pair: DovecotPair | undefined;
  let proc: DovewardenProcess | undefined;
  let imapA: ImapFlow | undefined;

  const a = (): DovecotServer => pair!.a;
  const b = (): DovecotServer => pair!.b;

  beforeAll(async () => {
    const [httpPort, opsPort] = await freePorts(2);
    pair = await startDovecotPair({
      version: '2.4',
      users: [user],
      eventsUrl: `http://127.0.0.1:${httpPort}/events`,
    });
    proc = DovewardenProcess.start({
      args: ['all'],
      env: {
        ...dovewardenEnv(namespace, pair),
        DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
        DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
        // Only events drive replication: a change whose event is lost stays unreplicated.
        DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
        DOVEWARDEN_LOG_LEVEL: 'debug',
      },
      metricsPort: opsPort,
    });
    await proc.waitUntilReady();
    imapA = await connectImap(pair.a, user);
  });

  afterAll(async () => {
    if (imapA !== undefined) await closeImap(imapA);
    const stopped = await proc?.stop();
    await pair?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
    // One line per change: how long from A's tagged OK until B showed it.
    console.log(`every-change timings:\n${timings.join('\n')}`);
    expect(stopped?.code).toBe(0);
  });

  /** What to look at when a change does not show up on B. */
  function diagnostics(): string {
    const events = (proc?.output ?? []).filter((l) => /event|sync|job/i.test(l)).slice(-30);
    const logA = a().readLog().trim().split('\n').slice(-30);
    return `--- dovewarden (last event/sync lines)\n${events.join('\n')}\n--- Dovecot A log tail\n${logA.join('\n')}`;
  }

  /** Polls `read` until it returns `expected` or the time is up; returns the last value read. */
  async function eventually<T>(read: () => Promise<T>, expected: T): Promise<T> {
    // A change reaching B: the same bound as waitForConvergence's (300 Doveadm API calls on A).
    const bound = await convergenceBound(a(), user);
    const deadline = Date.now() + bound.ms;
    for (;;) {
      const value = await read();
      if (isDeepStrictEqual(value, expected)) return value;
      if (Date.now() >= deadline) {
        console.log(
          `still ${JSON.stringify(value)} after ${bound.why}, wanted ${JSON.stringify(expected)}\n${diagnostics()}`,
        );
        return value;
      }
      await sleep(100);
    }
  }

  async function converge(): Promise<void> {
    const result = await waitForConvergence(a(), b(), [user]);
    if (result.differences.length > 0) console.log(diagnostics());
    expect(result.differences).toEqual([]);
  }

  /** Runs `fn` on a fresh connection to a server, so no stale selected-mailbox view is read. */
  async function on<T>(server: DovecotServer, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
    const client = await connectImap(server, user);
    try {
      return await fn(client);
    } finally {
      await closeImap(client);
    }
  }

  const subjectsOnB = (mailbox: string): Promise<string[]> =>
    on(b(), (client) => listSubjects(client, mailbox));

  /** Subjects and flags in UID order, over EXAMINE and FETCH (FLAGS ENVELOPE): sets no \Seen. */
  const flagsOn = (server: DovecotServer, mailbox: string) =>
    on(server, async (client) => {
      const lock = await client.getMailboxLock(mailbox, { readOnly: true });
      try {
        if (client.mailbox === false || client.mailbox.exists === 0) return [];
        const messages = await client.fetchAll('1:*', { flags: true, envelope: true, uid: true });
        return messages
          .sort((x, y) => x.uid - y.uid)
          .map((m) => ({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].sort() }));
      } finally {
        lock.release();
      }
    });

  /** Every mailbox with its subscription state (LIST ... RETURN (SUBSCRIBED) or LSUB). */
  const mailboxesOn = (server: DovecotServer) =>
    on(server, async (client) =>
      (await client.list())
        .map((m) => ({ path: m.path, subscribed: m.subscribed === true }))
        .sort((x, y) => x.path.localeCompare(y.path)),
    );

  /** The UID of the message with this subject on A (a FETCH ENVELOPE, which sets no \Seen). */
  async function uidOnA(mailbox: string, subject: string): Promise<number> {
    const lock = await imapA!.getMailboxLock(mailbox, { readOnly: true });
    try {
      const messages = await imapA!.fetchAll('1:*', { envelope: true, uid: true });
      const found = messages.find((m) => m.envelope?.subject === subject);
      if (found === undefined) throw new Error(`no "${subject}" in ${mailbox} on A`);
      return found.uid;
    } finally {
      lock.release();
    }
  }

  /**
   * Sends exactly these commands on a raw IMAP connection to A (after LOGIN, before LOGOUT),
   * failing on any reply other than OK.
   */
  function rawImapOnA(commands: readonly string[]): Promise<void> {
    const script = [`LOGIN ${user} "${a().passwordOf(user)}"`, ...commands, 'LOGOUT'];
    return new Promise((resolve, reject) => {
      const socket = connect(a().imapPort, '127.0.0.1');
      socket.setEncoding('utf8');
      let buffer = '';
      let step = -1;
      const next = (): void => {
        step += 1;
        if (step < script.length) socket.write(`t${step} ${script[step]}\r\n`);
        else {
          socket.end();
          resolve();
        }
      };
      socket.on('error', reject);
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (let nl = buffer.indexOf('\r\n'); nl >= 0; nl = buffer.indexOf('\r\n')) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          if (step === -1 ? line.startsWith('* OK') : line.startsWith(`t${step} OK`)) next();
          else if (step === -1 || line.startsWith(`t${step} `)) {
            socket.destroy();
            reject(new Error(`${script[Math.max(step, 0)]}: ${line}`));
          }
        }
      });
    });
  }

  /** Records how long a change took to show up on B. */
  function timed(label: string): () => void {
    const started = Date.now();
    return () => timings.push(`${label}: ${Date.now() - started} ms`);
  }

  it('APPEND: the first sync creates user1 on B with both messages', async () => {
    const done = timed('APPEND');
    await appendMessage(imapA!, 'INBOX', { subject: 'one' });
    await appendMessage(imapA!, 'INBOX', { subject: 'two' });
    await converge();
    // B is only read from here on, after user1's first sync: no INBOX GUID conflict.
    expect(await eventually(() => subjectsOnB('INBOX'), ['one', 'two'])).toEqual(['one', 'two']);
    done();
  });

  it('COPY to another mailbox', async () => {
    // Precondition: the target exists on both sides (createMailbox also SUBSCRIBEs it).
    await createMailbox(imapA!, 'Archive');
    await converge();

    const done = timed('COPY');
    const uid = await uidOnA('INBOX', 'one');
    const lock = await imapA!.getMailboxLock('INBOX');
    try {
      expect(await imapA!.messageCopy(String(uid), 'Archive', { uid: true })).not.toBe(false);
    } finally {
      lock.release();
    }
    await converge();
    expect(await eventually(() => subjectsOnB('Archive'), ['one'])).toEqual(['one']);
    expect(await subjectsOnB('INBOX')).toEqual(['one', 'two']);
    done();
  });

  it('MOVE to another mailbox', async () => {
    const done = timed('MOVE');
    const uid = await uidOnA('INBOX', 'two');
    const lock = await imapA!.getMailboxLock('INBOX');
    try {
      expect(await imapA!.messageMove(String(uid), 'Archive', { uid: true })).not.toBe(false);
    } finally {
      lock.release();
    }
    await converge();
    expect(await eventually(() => subjectsOnB('INBOX'), ['one'])).toEqual(['one']);
    expect(await subjectsOnB('Archive')).toEqual(['one', 'two']);
    done();
  });

  it('STORE +FLAGS \\Flagged', async () => {
    const done = timed('STORE');
    await addFlags(imapA!, 'INBOX', String(await uidOnA('INBOX', 'one')), ['\\Flagged']);
    const expected = [{ subject: 'one', flags: ['\\Flagged'] }];
    expect(await flagsOn(a(), 'INBOX')).toEqual(expected);
    // The comparison ignores flags, so it passes at once; B's flags are the real check.
    await converge();
    expect(await eventually(() => flagsOn(b(), 'INBOX'), expected)).toEqual(expected);
    done();
  });

  it('EXPUNGE (UID EXPUNGE of a message already flagged \\Deleted)', async () => {
    // Precondition, replicated on its own: the message is \Deleted on both sides.
    const uid = await uidOnA('Archive', 'one');
    await addFlags(imapA!, 'Archive', String(uid), ['\\Deleted']);
    const deleted = [
      { subject: 'one', flags: ['\\Deleted'] },
      { subject: 'two', flags: [] },
    ];
    expect(await eventually(() => flagsOn(b(), 'Archive'), deleted)).toEqual(deleted);

    const done = timed('EXPUNGE');
    await rawImapOnA(['SELECT Archive', `UID EXPUNGE ${uid}`]);
    await converge();
    expect(await eventually(() => subjectsOnB('Archive'), ['two'])).toEqual(['two']);
    done();
  });

  it('CREATE (a bare CREATE, no SUBSCRIBE)', async () => {
    const done = timed('CREATE');
    await rawImapOnA(['CREATE Projects']);
    await converge();
    const onA = await mailboxesOn(a());
    expect(onA.find((m) => m.path === 'Projects')).toEqual({ path: 'Projects', subscribed: false });
    // Projects exists on B too, as unsubscribed as on A.
    expect(await eventually(() => mailboxesOn(b()), onA)).toEqual(onA);
    done();
  });

  it('RENAME a mailbox with messages', async () => {
    const done = timed('RENAME');
    await renameMailbox(imapA!, 'Archive', 'Archive-2024');
    await converge();
    const paths = ['Archive-2024', 'INBOX', 'Projects'];
    expect((await mailboxesOn(a())).map((m) => m.path)).toEqual(paths);
    // The new name exists on B, the old one does not, and the messages moved with it.
    expect(
      await eventually(async () => (await mailboxesOn(b())).map((m) => m.path), paths),
    ).toEqual(paths);
    expect(await subjectsOnB('Archive-2024')).toEqual(['two']);
    done();
  });

  /*
   * IMAP RENAME on A leaves the subscription on the old name only (A: Archive). A two-way dsync
   * used to subscribe Archive-2024 on A itself while carrying the rename over: a write to A
   * that no client made. One-way sync leaves A as the client left it, and B must match it.
   */
  it('RENAME: B ends with the same subscriptions as A', async () => {
    const onA = await mailboxesOn(a());
    // As the client left it: replication wrote nothing to A.
    expect(onA.find((m) => m.path === 'Archive-2024')).toEqual({
      path: 'Archive-2024',
      subscribed: false,
    });
    expect(await eventually(() => mailboxesOn(b()), onA)).toEqual(onA);
  });

  it('DELETE a mailbox', async () => {
    const done = timed('DELETE');
    await deleteMailbox(imapA!, 'Archive-2024');
    await converge();
    const paths = ['INBOX', 'Projects'];
    expect((await mailboxesOn(a())).map((m) => m.path)).toEqual(paths);
    expect(
      await eventually(async () => (await mailboxesOn(b())).map((m) => m.path), paths),
    ).toEqual(paths);
    done();
  });

  it('SUBSCRIBE', async () => {
    const projects = async (server: DovecotServer) =>
      (await mailboxesOn(server)).find((m) => m.path === 'Projects');
    expect(await projects(b())).toEqual({ path: 'Projects', subscribed: false });

    const done = timed('SUBSCRIBE');
    expect(await imapA!.mailboxSubscribe('Projects')).toBe(true);
    const subscribed = { path: 'Projects', subscribed: true };
    expect(await projects(a())).toEqual(subscribed);
    // Subscriptions are invisible to the comparison: B's LIST is the real check.
    await converge();
    expect(await eventually(() => projects(b()), subscribed)).toEqual(subscribed);
    expect(await mailboxesOn(b())).toEqual(await mailboxesOn(a()));
    done();
  });

  it('an LMTP delivery (mail_delivery_finished)', async () => {
    const done = timed('LMTP');
    await deliverLmtp(a(), user, buildMessage({ subject: 'delivered' }).raw);
    await converge();
    expect(await eventually(() => subjectsOnB('INBOX'), ['one', 'delivered'])).toEqual([
      'one',
      'delivered',
    ]);
    done();
  });
});
