import {
  type DovecotPair,
  buildMessage,
  compareMailboxes,
  describeWithDovecot,
  freePorts,
  sleep,
  startDovecotPair,
} from '@dovewarden/testkit';

/**
 * What dsync's two one-way modes do with the cases that made dovewarden's one-way rules, measured
 * on a real Dovecot 2.4 pair with doveadm alone (no dovewarden): `sync -1` (the `oneway` sync
 * mode) and `backup` (the `backup` sync mode). docs/reliability.md records the choice these
 * measurements led to; a Dovecot release that behaves otherwise turns this file red.
 */
type Mode = 'sync -1' | 'backup';

describeWithDovecot('2.4')("dsync's one-way modes, measured", () => {
  let pair: DovecotPair | undefined;
  const USERS = ['stale1', 'stale2', 'bonly1', 'bonly2', 'rename1', 'rename2'];

  beforeAll(async () => {
    const [deadPort] = await freePorts(1);
    pair = await startDovecotPair({
      version: '2.4',
      users: USERS,
      eventsUrl: `http://127.0.0.1:${deadPort}/events`,
    });
  });

  afterAll(async () => {
    await pair?.stop();
  });

  /** One run of the mode from `state`: its exit code and the state it printed. */
  const runOnce = async (
    mode: Mode,
    user: string,
    state: string,
  ): Promise<{ exitCode: number | null; state: string }> => {
    const args =
      mode === 'backup'
        ? ['backup', '-u', user, '-s', state, pair!.b.dsyncDestination]
        : ['sync', '-u', user, '-1', '-s', state, pair!.b.dsyncDestination];
    const result = await pair!.a.doveadmResult(args);
    return { exitCode: result.exitCode, state: result.stdout.trim() };
  };
  /** A run that must succeed; the state it printed. */
  const run = async (mode: Mode, user: string, state: string): Promise<string> => {
    const result = await runOnce(mode, user, state);
    expect(result.exitCode).toBe(0);
    return result.state;
  };
  const guidsOn = async (on: 'a' | 'b', user: string): Promise<string[]> =>
    (await pair![on].doveadm(['-f', 'tab', 'fetch', '-u', user, 'guid', 'mailbox', 'INBOX', 'all']))
      .trim()
      .split('\n')
      .slice(1);
  let sent = 0;
  const save = async (user: string, count: number, on: 'a' | 'b' = 'a'): Promise<void> => {
    for (let i = 0; i < count; i += 1) {
      sent += 1;
      const { raw } = buildMessage({ subject: `mode ${sent}`, to: `${user}@example.com` });
      await pair![on].doveadm(['save', '-u', user, '-m', 'INBOX'], { input: raw });
    }
  };
  /** A run whose new state is lost, then A expunges two messages it copied and gets three more. */
  const staleRunSetUp = async (mode: Mode, user: string): Promise<string> => {
    await save(user, 5);
    const first = await run(mode, user, '');
    await save(user, 5);
    // This run copies UIDs 6-10 to B; its new state is thrown away, as the HTTP API does with
    // an exit 2 or any failure.
    await run(mode, user, first);
    await pair!.a.doveadm(['expunge', '-u', user, 'mailbox', 'INBOX', 'uid', '7:8']);
    await save(user, 3);
    return first;
  };
  const differences = async (user: string): Promise<string[]> =>
    (await compareMailboxes(pair!.a, pair!.b, user)).differences;

  it('sync -1 from a state older than B (a run whose new state was lost) while A expunged what that run copied: B keeps them at new UIDs, and says it succeeded', async () => {
    const user = 'stale1';
    const first = await staleRunSetUp('sync -1', user);
    expect((await runOnce('sync -1', user, first)).exitCode).toBe(0);
    // -1 takes B's copies of A's expunged messages for B's own mail and moves them past A's
    // UIDNEXT: UIDs apart for good (docs/reliability.md, lost-state.test.ts).
    expect(await differences(user)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^stale1 INBOX: UID \d+ .* only on B$/)]),
    );
  });

  it("backup from the same old state: B equal at once, or (exit 75) B's mailbox deleted and a full backup copies it again", async () => {
    const user = 'stale2';
    const first = await staleRunSetUp('backup', user);
    const stale = await runOnce('backup', user, first);
    // Measured 1 run in 5 with exit 0, 4 in 5 with exit 75: dsync found "UID=9 already exists
    // locally for a different mail", deleted B's INBOX and asked for another run. Until that
    // run, B has no INBOX at all.
    expect([0, 75]).toContain(stale.exitCode);
    if (stale.exitCode === 75) {
      expect(await differences(user)).toEqual(['stale2 INBOX: folder on A, missing on B']);
      // And it printed the state it was sent, as a lock timeout does: only the time it took
      // tells them apart (replicate-user.ts, endedBeforeAnyWork).
      expect(stale.state).toBe(first);
      // What dovewarden runs after a failure that may have changed B: a full sync.
      expect((await runOnce('backup', user, '')).exitCode).toBe(0);
    }
    expect(await differences(user)).toEqual([]);
  });

  it.each<[Mode, string, boolean]>([
    // Kept, but B is not A: B's message holds the UID that A gave its own new one.
    ['sync -1', 'bonly1', true],
    // Destroyed: B becomes A's mirror.
    ['backup', 'bonly2', false],
  ])(
    '%s after mail reached B alone (a failover) and A got new mail too (user %s): B keeps it: %s',
    async (mode, user, kept) => {
      await save(user, 2);
      const state = await run(mode, user, '');
      await save(user, 1, 'b');
      const [onlyOnB] = (await guidsOn('b', user)).slice(-1);
      await save(user, 1);
      await runOnce(mode, user, state);
      await runOnce(mode, user, '');
      expect((await guidsOn('b', user)).includes(onlyOnB ?? '-')).toBe(kept);
      expect(await differences(user)).toEqual(
        kept ? expect.arrayContaining([expect.stringMatching(/only on B/)]) : [],
      );
    },
  );

  it.each<[Mode, string, boolean]>([
    ['sync -1', 'rename1', false],
    ['backup', 'rename2', true],
  ])(
    "%s after B renamed a folder a second after A did (user %s): B takes A's name: %s",
    async (mode, user, equal) => {
      await pair!.a.doveadm(['mailbox', 'create', '-u', user, 'Projects']);
      await save(user, 1);
      const state = await run(mode, user, '');
      await pair!.a.doveadm(['mailbox', 'rename', '-u', user, 'Projects', 'Work']);
      // dsync merges renames by their times in whole seconds: B's later one looks newer.
      await sleep(1100);
      await pair!.b.doveadm(['mailbox', 'rename', '-u', user, 'Projects', 'Elsewhere']);
      await run(mode, user, state);
      await run(mode, user, '');
      const found = await differences(user);
      if (equal) expect(found).toEqual([]);
      else expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/Elsewhere|Work/)]));
    },
  );
});
