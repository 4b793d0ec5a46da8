/**
 * DoveadmClient against real Dovecot pairs, the same suite for 2.4 and 2.3.
 *
 * What differs between the versions, as seen by these tests:
 * - Destination down: 2.4 answers HTTP 200 with exit 75 (TemporaryFailureError); 2.3 sends no
 *   HTTP answer at all, its doveadm child dies and the connection closes (ConnectionError,
 *   reason `closed-without-response`). Both are kind `temporary`, which is all a caller needs.
 * - Everything else exercised here (sync states, fullSync, exit 67, 401, user listing,
 *   mailboxStatus, fetch, the command list that assertServerSupport checks) behaves the same.
 * - Not asserted (no timed assertions): on the test pair a no-change incremental sync takes about
 *   75 ms on 2.4 and 25 ms on 2.3; see bench/ for the figures.
 *
 * Dovecot rule that shapes the tests: B is never touched for a user (IMAP, doveadm, API) before
 * that user's first sync, because doing so creates an INBOX on B with its own GUID and plants a
 * conflict. So each test that cares about order has users of its own.
 */
import {
  DoveadmClient,
  AuthenticationError,
  DoveadmTcpClient,
  NotFoundError,
  isDoveadmError,
  type DoveadmError,
  type MailboxStatusField,
} from '@dovewarden/doveadm-client';
import { readReplicaSnapshot } from '@dovewarden/shared';
import {
  appendMessage,
  closeImap,
  compareMailboxes,
  connectImap,
  createMailbox,
  describeWithDovecot,
  freePorts,
  startDovecotPair,
  type DovecotPair,
  type DovecotServer,
  type DovecotVersion,
  hangGuard,
} from '@dovewarden/testkit';

const VERSIONS: readonly DovecotVersion[] = ['2.4', '2.3'];

const USERS = [
  'incremental',
  'full',
  'verify',
  'down',
  'listed@example.com',
  'folders',
  'tree',
] as const;

/**
 * describe.each over Dovecot versions, but through describeWithDovecot, so a version that is
 * missing on this machine is skipped loudly instead of failing in beforeAll.
 */
function describeEachDovecot(
  versions: readonly DovecotVersion[],
  fn: (version: DovecotVersion) => void,
): void {
  for (const version of versions) {
    describeWithDovecot(version)(`DoveadmClient against Dovecot ${version}`, () => fn(version));
  }
}

async function appendTo(
  server: DovecotServer,
  user: string,
  messages: ReadonlyArray<{ mailbox: string; subject: string }>,
  create: readonly string[] = [],
): Promise<void> {
  const imap = await connectImap(server, user);
  try {
    for (const mailbox of create) await createMailbox(imap, mailbox);
    for (const { mailbox, subject } of messages) await appendMessage(imap, mailbox, { subject });
  } finally {
    await closeImap(imap);
  }
}

/** The rejection of `promise` as a DoveadmError; fails the test if it resolves or throws else. */
async function doveadmErrorOf(promise: Promise<unknown>): Promise<DoveadmError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isDoveadmError(error)) {
    throw new Error(`expected a DoveadmError, got ${String(error)}`);
  }
  return error;
}

/** Order-independent views, since neither side promises an order of mailboxes. */
function byMailbox<T extends { mailbox: string }>(rows: readonly T[]): T[] {
  return [...rows].sort((x, y) => x.mailbox.localeCompare(y.mailbox));
}

function sortedGuids(map: Map<string, string[]>): Array<[string, string[]]> {
  return [...map]
    .map(([mailbox, guids]): [string, string[]] => [mailbox, [...guids].sort()])
    .sort(([x], [y]) => x.localeCompare(y));
}

/**
 * Hang guards in bare node process starts on this machine (about 30 s and 10 s when quiet):
 * the HTTP client's timeout, the pair's start, and the dsync lock and run timeouts, in seconds.
 */
const HANG_GUARD = hangGuard(750);
const DSYNC_SECONDS = Math.ceil(hangGuard(250).ms / 1000);

describeEachDovecot(VERSIONS, (version) => {
  let pair: DovecotPair;
  let clientA: DoveadmClient;
  let clientB: DoveadmClient;

  beforeAll(async () => {
    pair = await startDovecotPair({ version, users: [...USERS] });
    clientA = new DoveadmClient({
      url: pair.a.doveadmHttpUrl,
      password: pair.a.doveadmPassword,
      timeoutMs: HANG_GUARD.ms,
    });
    clientB = new DoveadmClient({
      url: pair.b.doveadmHttpUrl,
      password: pair.b.doveadmPassword,
      timeoutMs: HANG_GUARD.ms,
    });
  }, HANG_GUARD.ms);

  afterAll(async () => {
    clientA?.close();
    clientB?.close();
    await pair?.stop();
  });

  it('knows sync and every parameter the client sends', async () => {
    const commands = await clientA.assertServerSupport();
    expect(commands.map((c) => c.command)).toEqual(
      expect.arrayContaining(['sync', 'user', 'mailboxStatus', 'fetch']),
    );
  });

  it('syncs first with state "" and then incrementally with the returned state', async () => {
    const { a, b } = pair;
    const user = 'incremental';
    await appendTo(a, user, [
      { mailbox: 'INBOX', subject: 'one' },
      { mailbox: 'INBOX', subject: 'two' },
    ]);

    const first = await clientA.sync(user, { destination: b.dsyncDestination, state: '' });
    expect(first.state).not.toBe('');
    expect(await compareMailboxes(a, b, user)).toEqual({ equal: true, differences: [] });

    await appendTo(a, user, [{ mailbox: 'INBOX', subject: 'three' }]);
    expect((await compareMailboxes(a, b, user)).equal).toBe(false);

    const second = await clientA.sync(user, {
      destination: b.dsyncDestination,
      state: first.state,
    });
    expect(second.state).not.toBe('');
    expect(second.state).not.toBe(first.state);
    expect(await compareMailboxes(a, b, user)).toEqual({ equal: true, differences: [] });

    // Nothing changed: still a state to carry on with, and still equal.
    const third = await clientA.sync(user, {
      destination: b.dsyncDestination,
      state: second.state,
    });
    expect(third.state).not.toBe('');
    expect(await compareMailboxes(a, b, user)).toEqual({ equal: true, differences: [] });
  });

  it('runs a full sync, first and after a change', async () => {
    const { a, b } = pair;
    const user = 'full';
    await appendTo(a, user, [{ mailbox: 'Archive', subject: 'kept' }], ['Archive']);

    const first = await clientA.sync(user, {
      destination: b.dsyncDestination,
      state: '',
      fullSync: true,
      lockTimeout: DSYNC_SECONDS,
      timeout: DSYNC_SECONDS,
    });
    expect(await compareMailboxes(a, b, user)).toEqual({ equal: true, differences: [] });

    await appendTo(a, user, [{ mailbox: 'INBOX', subject: 'later' }]);
    const second = await clientA.sync(user, {
      destination: b.dsyncDestination,
      state: first.state,
      fullSync: true,
    });
    expect(typeof second.state).toBe('string');
    expect(await compareMailboxes(a, b, user)).toEqual({ equal: true, differences: [] });
  });

  it('reports an unknown user as UnknownUserError (exit 67)', async () => {
    const error = await doveadmErrorOf(
      clientA.sync('nobody-here', { destination: pair.b.dsyncDestination, state: '' }),
    );
    expect(error).toMatchObject({
      name: 'UnknownUserError',
      code: 'DOVEADM_UNKNOWN_USER',
      kind: 'unknown-user',
      exitCode: 67,
      retryable: false,
    });
  });

  it('reports a destination that is down as a temporary failure', async () => {
    const user = 'down';
    await appendTo(pair.a, user, [{ mailbox: 'INBOX', subject: 'stranded' }]);
    // freePorts hands out ports nothing listens on, so the dsync connection is refused.
    const [closedPort] = await freePorts(1);
    const error = await doveadmErrorOf(
      clientA.sync(user, {
        destination: `tcp:127.0.0.1:${closedPort}`,
        state: '',
        timeout: DSYNC_SECONDS,
      }),
    );
    expect(error.kind).toBe('temporary');
    expect(error.retryable).toBe(true);
    if (version === '2.4') {
      expect(error).toMatchObject({ name: 'TemporaryFailureError', exitCode: 75 });
    } else {
      expect(error).toMatchObject({
        name: 'ConnectionError',
        reason: 'closed-without-response',
        exitCode: undefined,
      });
    }
  });

  it('reports a wrong password as a configuration error (401) without echoing it', async () => {
    const wrongPassword = `not-${pair.a.doveadmPassword}`;
    const wrong = new DoveadmClient({ url: pair.a.doveadmHttpUrl, password: wrongPassword });
    try {
      const error = await doveadmErrorOf(wrong.listUsers());
      expect(error).toMatchObject({
        name: 'AuthenticationError',
        code: 'DOVEADM_AUTHENTICATION_FAILED',
        kind: 'configuration',
        status: 401,
      });
      expect(`${error.message} ${error.stack ?? ''} ${JSON.stringify(error)}`).not.toContain(
        wrongPassword,
      );
    } finally {
      wrong.close();
    }
  });

  it('lists the passwd-file users', async () => {
    expect((await clientA.listUsers()).sort()).toEqual([...USERS].sort());
    expect(await clientA.listUsers('*@example.com')).toEqual(['listed@example.com']);
    // Without a wildcard doveadm looks one user up instead of listing.
    expect(await clientA.listUsers('listed@example.com')).toEqual(['listed@example.com']);
    expect(await clientA.listUsers('nobody-here')).toEqual([]);
  });

  it('sees the same mailboxStatus, fetch and message GUIDs on A and B after a sync', async () => {
    const { a, b } = pair;
    const user = 'verify';
    await appendTo(
      a,
      user,
      [
        { mailbox: 'INBOX', subject: 'in' },
        { mailbox: 'Projects', subject: 'p1' },
        { mailbox: 'Projects', subject: 'p2' },
      ],
      ['Projects'],
    );
    // B is read only from here on: the user's first sync comes first.
    await clientA.sync(user, { destination: b.dsyncDestination, state: '' });

    const fields: MailboxStatusField[] = ['messages', 'uidnext', 'uidvalidity', 'guid'];
    const [statusA, statusB] = await Promise.all([
      clientA.mailboxStatus(user, fields),
      clientB.mailboxStatus(user, fields),
    ]);
    expect(byMailbox(statusA).map((s) => [s.mailbox, s.messages])).toEqual([
      ['INBOX', '1'],
      ['Projects', '2'],
    ]);
    expect(byMailbox(statusB)).toEqual(byMailbox(statusA));

    const [inboxA, inboxB] = await Promise.all([
      clientA.fetch(user, ['uid', 'guid'], ['mailbox', 'Projects', 'all']),
      clientB.fetch(user, ['uid', 'guid'], ['mailbox', 'Projects', 'all']),
    ]);
    expect(inboxA).toHaveLength(2);
    expect(inboxB).toEqual(inboxA);

    const [guidsA, guidsB] = await Promise.all([
      clientA.messageGuidsByMailbox(user),
      clientB.messageGuidsByMailbox(user),
    ]);
    expect(sortedGuids(guidsA).map(([mailbox, guids]) => [mailbox, guids.length])).toEqual([
      ['INBOX', 1],
      ['Projects', 2],
    ]);
    expect(sortedGuids(guidsB)).toEqual(sortedGuids(guidsA));
    // And by the strict comparison: every UID's GUID and flags, folders, subscriptions.
    expect((await compareMailboxes(a, b, user)).differences).toEqual([]);
  });

  it('lists a parent that exists only for its child, which mailboxStatus leaves out', async () => {
    const user = 'tree';
    await clientA.assertServerSupport({ mailboxList: ['user', 'subscriptions', 'mailboxMask'] });
    await clientA.command('mailboxCreate', { user, mailbox: ['a/b'] }, { user });
    expect((await clientA.mailboxList(user)).sort()).toEqual(['INBOX', 'a', 'a/b']);
    // `*` skips `a`, and on sdbox (the pair's driver) an INBOX never created; naming `a` is
    // exit 68. So the reader tells such a parent by its absence and its child.
    const statuses = await clientA.mailboxStatus(user, ['guid']);
    expect(statuses.map((status) => status.mailbox).sort()).toEqual(['a/b']);
    await expect(clientA.mailboxStatus(user, ['guid'], 'a')).rejects.toBeInstanceOf(NotFoundError);
    // Subscriptions are names: one without a folder is listed too.
    await clientA.command('mailboxSubscribe', { user, mailbox: ['ghost', 'a/b'] }, { user });
    expect((await clientA.mailboxList(user, { subscriptions: true })).sort()).toEqual([
      'a/b',
      'ghost',
    ]);
    const snapshot = await readReplicaSnapshot(clientA, user);
    expect(snapshot.folders.map((folder) => [folder.name, folder.selectable])).toEqual([
      ['a', false],
      ['a/b', true],
    ]);
    expect(snapshot.subscriptions).toEqual(['a/b', 'ghost']);
  });

  it("lists, renames and deletes folders on B through B's doveadm service (the dsync destination)", async () => {
    const { a, b } = pair;
    const user = 'folders';
    await appendTo(a, user, [{ mailbox: 'Old', subject: 'o' }], ['Old']);
    await clientA.sync(user, { destination: b.dsyncDestination, state: '' });
    const tcp = new DoveadmTcpClient({
      destination: b.dsyncDestination,
      password: b.doveadmPassword,
      timeoutMs: HANG_GUARD.ms,
    });
    // The same answer as B's Doveadm HTTP API.
    expect(byMailbox(await tcp.mailboxStatus(user, ['guid']))).toEqual(
      byMailbox(await clientB.mailboxStatus(user, ['guid'])),
    );
    await tcp.mailboxRename(user, 'Old', 'New');
    await expect(tcp.mailboxRename(user, 'Old', 'Other')).rejects.toBeInstanceOf(NotFoundError);
    const namesOnB = async () =>
      (await clientB.mailboxStatus(user, ['messages']))
        .map((status) => status.mailbox)
        .filter((name) => name !== 'INBOX');
    expect(await namesOnB()).toEqual(['New']);
    await tcp.mailboxDelete(user, 'New');
    expect(await namesOnB()).toEqual([]);
    const wrong = new DoveadmTcpClient({ destination: b.dsyncDestination, password: 'wrong-pw' });
    await expect(wrong.mailboxStatus(user, ['guid'])).rejects.toBeInstanceOf(AuthenticationError);
  });
});

/**
 * readMany: several commands in one HTTP request run in ONE doveadm process, each answered
 * under its own tag, also when one of them fails. Measured here on this machine (medians of
 * 20): 4 separate requests about 57 ms on 2.4.1 and 51 ms on 2.3.19, one batched request
 * 17 and 18 ms. Logged, not asserted (no timed assertions).
 */
describeEachDovecot(VERSIONS, (version) => {
  let pair: DovecotPair;
  let client: DoveadmClient;
  const user = 'batched';
  const reads = {
    tree: { mailboxList: {} },
    subscribed: { mailboxList: { subscriptions: true } },
    statuses: { mailboxStatus: { fields: ['messages', 'guid'], mask: '*' } },
    messages: { fetch: { fields: ['mailbox', 'uid', 'guid'], query: ['all'] } },
  } as const;
  /** Pids of the doveadm processes that logged an HTTP request (2.4 and 2.3 spellings). */
  const requestPids = (): string[] =>
    [
      ...pair.a.readLog().matchAll(/doveadm\((\d+)\): Info: (?:http: )?doveadm: \S+ - - "POST/g),
    ].map((match) => match[1] ?? '');

  /** Waits for the log process to write the request lines; the new pids. */
  const newRequestPids = async (before: number, expected: number): Promise<string[]> => {
    for (let i = 0; i < 100 && requestPids().length < before + expected; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    return requestPids().slice(before);
  };

  beforeAll(async () => {
    pair = await startDovecotPair({ version, users: [user] });
    client = new DoveadmClient({
      url: pair.a.doveadmHttpUrl,
      password: pair.a.doveadmPassword,
      timeoutMs: HANG_GUARD.ms,
    });
    await appendTo(
      pair.a,
      user,
      Array.from({ length: 10 }, (_, i) => ({
        mailbox: i % 2 === 0 ? 'INBOX' : 'a/b',
        subject: `m${i}`,
      })),
      ['a/b'],
    );
  }, HANG_GUARD.ms);

  afterAll(async () => {
    client?.close();
    await pair?.stop();
  });

  it('runs a batch of reads in one doveadm process, each command answered on its own', async () => {
    const before = requestPids().length;
    const read = await client.readMany(user, reads);
    // One request, one process (restart_request_count = 1 on the doveadm service).
    expect(await newRequestPids(before, 1)).toHaveLength(1);
    expect(read.tree.status === 'fulfilled' && [...read.tree.value].sort()).toEqual([
      'INBOX',
      'a',
      'a/b',
    ]);
    expect(read.statuses.status === 'fulfilled' && read.statuses.value).toHaveLength(2);
    expect(read.messages.status === 'fulfilled' && read.messages.value).toHaveLength(10);

    // A mailbox that is gone: exit 68 for that command only, the others still answer.
    const gone = await client.readMany(user, {
      tree: { mailboxList: {} },
      status: { mailboxStatus: { fields: ['messages'], mask: 'gone' } },
      messages: { fetch: { fields: ['uid'], query: ['all'] } },
    });
    expect(gone.status.status === 'rejected' && gone.status.reason).toBeInstanceOf(NotFoundError);
    expect(gone.tree.status).toBe('fulfilled');
    expect(gone.messages.status === 'fulfilled' && gone.messages.value).toHaveLength(10);
    expect(await newRequestPids(before + 1, 1)).toHaveLength(1);

    await expect(readReplicaSnapshot(client, user)).resolves.toMatchObject({
      folders: [{ name: 'INBOX' }, { name: 'a', selectable: false }, { name: 'a/b' }],
    });
  });
});
