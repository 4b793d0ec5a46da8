import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  AbortedError,
  ChangedDuringSyncError,
  RequestTimeoutError,
  TemporaryFailureError,
  UnknownUserError,
} from '@dovewarden/doveadm-client';
import { ReplicationState, createLogger } from '@dovewarden/shared';
import {
  DestinationsFailedError,
  MAX_CHANGED_DURING_SYNC_RETRIES,
  type ReplicateDeps,
  type SyncApi,
  SyncKeepsChangingError,
  replicateAndRecord,
  replicateUser,
} from './replicate-user';
import { SyncRecord } from './sync-record';

type SyncCall = {
  user: string;
  state: string;
  fullSync: boolean | undefined;
  destination: string;
  onewaySync: boolean;
  backup: boolean | undefined;
  lockTimeout: number;
  timeout: number;
  allNamespaces: boolean;
};
type Outcome = string | Error;

/** A dsync state (format 1.x) that covers these mailbox GUIDs. */
function stateOf(guids: string[]): string {
  return Buffer.concat([
    Buffer.from([1, 0, 0, 0]),
    ...guids.map((g) => Buffer.concat([Buffer.from(g, 'hex'), Buffer.alloc(28)])),
    Buffer.alloc(4),
  ]).toString('base64');
}

/** A scripted doveadm: each call takes the next outcome for its destination. */
function scriptedDoveadm(
  outcomes: Outcome[] | Record<string, Outcome[]>,
): SyncApi & { calls: SyncCall[] } {
  const calls: SyncCall[] = [];
  return {
    calls,
    sync(user, options) {
      calls.push({
        user,
        state: options.state,
        fullSync: options.fullSync,
        destination: options.destination,
        onewaySync: options.onewaySync,
        backup: options.backup,
        lockTimeout: options.lockTimeout,
        timeout: options.timeout,
        allNamespaces: options.allNamespaces,
      });
      const queue = Array.isArray(outcomes) ? outcomes : outcomes[options.destination];
      const next = queue?.shift();
      if (next === undefined) return Promise.reject(new Error('unexpected sync call'));
      return next instanceof Error ? Promise.reject(next) : Promise.resolve({ state: next });
    },
  };
}

describe('replicateUser', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const state = new ReplicationState(redis, `dwtest-worker-${randomBytes(4).toString('hex')}`);
  const { keys } = state;
  const logger = createLogger('error', { silent: true });
  const DEST = 'tcp:b:1';
  const job = (user: string, fullSync?: boolean) => ({
    user,
    reason: { kind: 'manual' as const },
    requestedAt: 1,
    ...(fullSync === undefined ? {} : { fullSync }),
  });
  const deps = (doveadm: SyncApi, extra: Partial<ReplicateDeps> = {}): ReplicateDeps => ({
    doveadm,
    dsync: { onewaySync: true, backup: false, lockTimeout: 30, timeout: 565, allNamespaces: true },
    state,
    destinations: [DEST],
    logger,
    ...extra,
  });

  afterAll(async () => {
    const found = await redis.keys(`${keys.namespace}:*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });

  it('sends "" the first time, then the stored state, and records the success', async () => {
    const doveadm = scriptedDoveadm(['state-1', 'state-2']);
    const d = deps(doveadm, { now: () => 5000 });
    // The run writes nothing but its start's in-flight mark: the rest waits for the record.
    const record = new SyncRecord('u1@example.com');
    await expect(replicateUser(d, job('u1@example.com'), record)).resolves.toMatchObject({
      runs: 1,
      destinations: [{ incremental: false }],
    });
    expect((await redis.keys(`${keys.namespace}:*`)).filter((k) => k.includes('u1@'))).toEqual([
      keys.syncInFlight(DEST, 'u1@example.com'),
    ]);
    expect(await redis.zscore(keys.lastSuccessAt(DEST), 'u1@example.com')).toBeNull();
    await record.storeSuccess(state, { finishedAt: 5000, fullSync: false });
    await expect(replicateAndRecord(d, job('u1@example.com'))).resolves.toMatchObject({
      runs: 1,
      destinations: [{ incremental: true }],
    });
    expect(doveadm.calls.map((call) => call.state)).toEqual(['', 'state-1']);
    expect(doveadm.calls[0].destination).toBe(DEST);
    expect(await redis.get(keys.dsyncState(DEST, 'u1@example.com'))).toBe('state-2');
    expect(await redis.zscore(keys.lastSuccessAt(DEST), 'u1@example.com')).toBe('5000');
    expect(await redis.zscore(keys.lastSuccess, 'u1@example.com')).toBe('5000');
    expect(await redis.exists(keys.syncInFlight(DEST, 'u1@example.com'))).toBe(0);
    expect(await redis.pttl(keys.dsyncState(DEST, 'u1@example.com'))).toBeGreaterThan(
      29 * 24 * 3600 * 1000,
    );
  });

  it('runs again after exit 2 from the state dsync printed for it (doveadm TCP), incrementally, and records it with the call', async () => {
    await redis.set(keys.dsyncState(DEST, 'tcp-u1'), 'old');
    const progress: string[] = [];
    const doveadm = scriptedDoveadm([
      new ChangedDuringSyncError('exit 2', { exitCode: 2, dsyncState: 'printed-1' }),
      'final',
      'next',
    ]);
    const original = doveadm.sync.bind(doveadm);
    doveadm.sync = async (user, options) => {
      progress.push((await redis.get(keys.dsyncState(DEST, 'tcp-u1'))) ?? '');
      return original(user, options);
    };
    await expect(replicateAndRecord(deps(doveadm), job('tcp-u1'))).resolves.toMatchObject({
      runs: 2,
      fullSync: false,
    });
    expect(doveadm.calls.map((c) => [c.state, c.fullSync])).toEqual([
      ['old', false],
      ['printed-1', false],
    ]);
    // Nothing stored mid-call: a crash before the second answer leaves the call's in-flight
    // mark, so the next sync is a full one and never goes back to 'old' (next test).
    expect(progress).toEqual(['old', 'old']);
    expect(await redis.get(keys.dsyncState(DEST, 'tcp-u1'))).toBe('final');
    // Nothing was lost, so the next sync is incremental too.
    await replicateAndRecord(deps(doveadm), job('tcp-u1'));
    expect(doveadm.calls[2]).toMatchObject({ state: 'final', fullSync: false });
  });

  it('after exit 2 with a printed state, never sends the older stored state again, whatever ends the call', async () => {
    const changed = () =>
      new ChangedDuringSyncError('exit 2', { exitCode: 2, dsyncState: 'printed' });
    // A crash (the worker killed during the second run): nothing recorded but the start.
    await redis.set(keys.dsyncState(DEST, 'crash-2'), 'old');
    const crashed = scriptedDoveadm([changed(), 'next']);
    const hang = crashed.sync.bind(crashed);
    let calls = 0;
    crashed.sync = (user, options) =>
      (calls += 1) === 2 ? new Promise<never>(() => undefined) : hang(user, options);
    void replicateUser(deps(crashed), job('crash-2'), new SyncRecord('crash-2'));
    while (calls < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await replicateAndRecord(deps(crashed), job('crash-2'));
    expect(crashed.calls.at(-1)).toMatchObject({ state: '', fullSync: true });
    // A failure that cannot have changed B: the printed state is recorded with the answer.
    await redis.set(keys.dsyncState(DEST, 'answered-2'), 'old');
    const answered = scriptedDoveadm([
      changed(),
      new UnknownUserError('exit 67', { exitCode: 67 }),
      'next',
    ]);
    await expect(replicateAndRecord(deps(answered), job('answered-2'))).rejects.toBeInstanceOf(
      UnknownUserError,
    );
    await replicateAndRecord(deps(answered), job('answered-2'));
    expect(answered.calls.at(-1)).toMatchObject({ state: 'printed', fullSync: false });
  });

  it('keeps the printed state of every exit 2 of a busy user and hands back without suspecting B', async () => {
    await redis.set(keys.dsyncState(DEST, 'tcp-u2'), 'old');
    const changed = (n: number) =>
      new ChangedDuringSyncError('exit 2', { exitCode: 2, dsyncState: `printed-${n}` });
    const doveadm = scriptedDoveadm([
      ...Array.from({ length: MAX_CHANGED_DURING_SYNC_RETRIES + 1 }, (_, i) => changed(i + 1)),
      'after',
    ]);
    await expect(replicateAndRecord(deps(doveadm), job('tcp-u2'))).rejects.toBeInstanceOf(
      SyncKeepsChangingError,
    );
    expect(doveadm.calls.every((c) => c.fullSync === false)).toBe(true);
    expect(await redis.get(keys.dsyncState(DEST, 'tcp-u2'))).toBe(
      `printed-${MAX_CHANGED_DURING_SYNC_RETRIES + 1}`,
    );
    expect(await redis.exists(keys.syncInFlight(DEST, 'tcp-u2'))).toBe(0);
    await replicateAndRecord(deps(doveadm), job('tcp-u2'));
    expect(doveadm.calls.at(-1)).toMatchObject({
      state: `printed-${MAX_CHANGED_DURING_SYNC_RETRIES + 1}`,
      fullSync: false,
    });
  });

  /** A doveadm whose every call lasts `ms` on the clock that `now` reads. */
  const lasting = (api: SyncApi, ms: number, clock: { ms: number }): SyncApi => ({
    sync: (user, options) => {
      clock.ms += ms;
      return api.sync(user, options);
    },
  });

  it('does not suspect B after a lock timeout (exit 75 after the lock wait, that printed the state it was sent)', async () => {
    await redis.set(keys.dsyncState(DEST, 'lock-u'), 'kept');
    const doveadm = scriptedDoveadm([
      new TemporaryFailureError('exit 75', { exitCode: 75, dsyncState: 'kept' }),
      'next',
    ]);
    const clock = { ms: 1_000_000 };
    const d = deps(lasting(doveadm, 30_050, clock), { now: () => clock.ms });
    await expect(replicateAndRecord(d, job('lock-u'))).rejects.toBeInstanceOf(
      TemporaryFailureError,
    );
    await replicateAndRecord(d, job('lock-u'));
    expect(doveadm.calls.map((c) => [c.state, c.fullSync])).toEqual([
      ['kept', false],
      ['kept', false],
    ]);
  });

  it('suspects B after an exit 75 that printed the state it was sent sooner than the lock wait (backup deleted a mailbox of B)', async () => {
    await redis.set(keys.dsyncState(DEST, 'quick75'), 'kept');
    const doveadm = scriptedDoveadm([
      new TemporaryFailureError('exit 75', { exitCode: 75, dsyncState: 'kept' }),
      'next',
    ]);
    const clock = { ms: 1_000_000 };
    const d = deps(lasting(doveadm, 400, clock), { now: () => clock.ms });
    await expect(replicateAndRecord(d, job('quick75'))).rejects.toBeInstanceOf(
      TemporaryFailureError,
    );
    await replicateAndRecord(d, job('quick75'));
    expect(doveadm.calls.map((c) => [c.state, c.fullSync])).toEqual([
      ['kept', false],
      ['', true],
    ]);
  });

  it('still suspects B after an exit 75 that printed another state, or none (HTTP)', async () => {
    for (const [user, printed] of [
      ['t75-a', 'moved-on'],
      ['t75-b', undefined],
    ] as const) {
      await redis.set(keys.dsyncState(DEST, user), 'kept');
      const doveadm = scriptedDoveadm([
        new TemporaryFailureError('exit 75', {
          exitCode: 75,
          ...(printed === undefined ? {} : { dsyncState: printed }),
        }),
        'next',
      ]);
      await expect(replicateAndRecord(deps(doveadm), job(user))).rejects.toBeInstanceOf(
        TemporaryFailureError,
      );
      await replicateAndRecord(deps(doveadm), job(user));
      expect(doveadm.calls[1]).toMatchObject({ state: '', fullSync: true });
    }
  });

  it('keeps suspecting B when a call after an abandoned one is refused by the lock', async () => {
    await redis.set(keys.dsyncState(DEST, 'lock-ab'), 'kept');
    // The previous call was abandoned: its in-flight mark is still there.
    await redis.set(keys.syncInFlight(DEST, 'lock-ab'), '1');
    const doveadm = scriptedDoveadm([
      new TemporaryFailureError('exit 75', { exitCode: 75, dsyncState: '' }),
      'next',
    ]);
    await expect(replicateAndRecord(deps(doveadm), job('lock-ab'))).rejects.toBeInstanceOf(
      TemporaryFailureError,
    );
    await replicateAndRecord(deps(doveadm), job('lock-ab'));
    expect(doveadm.calls.map((c) => c.fullSync)).toEqual([true, true]);
  });

  it('runs again at once after exit 2, as a full sync: the lost run changed B beyond the stored state', async () => {
    await redis.set(keys.dsyncState(DEST, 'u2'), 'old');
    const doveadm = scriptedDoveadm([
      new ChangedDuringSyncError('exit 2', { exitCode: 2 }),
      'new',
      'newer',
    ]);
    const outcome = await replicateAndRecord(deps(doveadm), job('u2'));
    expect(outcome).toMatchObject({ runs: 2, fullSync: true });
    expect(doveadm.calls.map(({ state, fullSync }) => ({ state, fullSync }))).toEqual([
      { state: 'old', fullSync: false },
      { state: '', fullSync: true },
    ]);
    expect(await redis.get(keys.dsyncState(DEST, 'u2'))).toBe('new');
    // The full sync stored a state that says what B holds: incremental again.
    await replicateAndRecord(deps(doveadm), job('u2'));
    expect(doveadm.calls[2]).toMatchObject({ state: 'new', fullSync: false });
  });

  it('never loops on exit 2: a few re-runs, then it hands the user back, and the next sync is full', async () => {
    await redis.set(keys.dsyncState(DEST, 'u3'), 'old');
    const changed = () => new ChangedDuringSyncError('exit 2', { exitCode: 2 });
    const doveadm = scriptedDoveadm(
      Array.from({ length: MAX_CHANGED_DURING_SYNC_RETRIES + 1 }, changed),
    );
    const attempt = replicateAndRecord(deps(doveadm), job('u3'));
    await expect(attempt).rejects.toBeInstanceOf(SyncKeepsChangingError);
    await expect(attempt).rejects.toThrow(/exit 2.*4 times in a row/);
    expect(doveadm.calls).toHaveLength(MAX_CHANGED_DURING_SYNC_RETRIES + 1);
    expect(doveadm.calls.map(({ state, fullSync }) => `${state}/${String(fullSync)}`)).toEqual([
      'old/false',
      ...Array.from({ length: MAX_CHANGED_DURING_SYNC_RETRIES }, () => '/true'),
    ]);
    // Kept for the departed-mailbox bookkeeping, but no longer trusted: the mark stays.
    expect(await redis.get(keys.dsyncState(DEST, 'u3'))).toBe('old');
    expect(await redis.exists(keys.syncInFlight(DEST, 'u3'))).toBe(1);
    const next = scriptedDoveadm(['s1']);
    await replicateAndRecord(deps(next), job('u3'));
    expect(next.calls[0]).toMatchObject({ state: '', fullSync: true });
    expect(await redis.exists(keys.syncInFlight(DEST, 'u3'))).toBe(0);
  });

  it('sends the dsync parameters from config with every call: one-way, the user lock, -N', async () => {
    const doveadm = scriptedDoveadm(['s1', 's2']);
    await replicateAndRecord(deps(doveadm), job('params'));
    await replicateAndRecord(
      deps(doveadm, {
        dsync: {
          onewaySync: false,
          backup: false,
          lockTimeout: 7,
          timeout: 565,
          allNamespaces: false,
        },
      }),
      job('params'),
    );
    expect(
      doveadm.calls.map(({ onewaySync, lockTimeout, timeout, allNamespaces }) => ({
        onewaySync,
        lockTimeout,
        timeout,
        allNamespaces,
      })),
    ).toEqual([
      { onewaySync: true, lockTimeout: 30, timeout: 565, allNamespaces: true },
      { onewaySync: false, lockTimeout: 7, timeout: 565, allNamespaces: false },
    ]);
  });

  it('backup mode: backs up a user the replica never served, syncs one-way a user it served until failback', async () => {
    const backup = {
      onewaySync: false,
      backup: true,
      lockTimeout: 30,
      timeout: 565,
      allNamespaces: true,
    };
    const doveadm = scriptedDoveadm(['b1', 'b2', 'b3']);
    const first = await replicateAndRecord(deps(doveadm, { dsync: backup }), job('mirror'));
    expect(first.heldForFailbackSince).toBeUndefined();
    await state.replicaService.noteServed(['mirror'], 1234);
    const held = await replicateAndRecord(deps(doveadm, { dsync: backup }), job('mirror'));
    expect(held.heldForFailbackSince).toBe(1234);
    await state.replicaService.forget('mirror');
    await replicateAndRecord(deps(doveadm, { dsync: backup }), job('mirror'));
    expect(doveadm.calls.map(({ backup: b, onewaySync }) => ({ backup: b, onewaySync }))).toEqual([
      { backup: true, onewaySync: false },
      // B holds changes of its own: a backup would remove them, -1 keeps them.
      { backup: false, onewaySync: true },
      { backup: true, onewaySync: false },
    ]);
    // The one-way mode never asks: a served user changes nothing there.
    await state.replicaService.noteServed(['mirror'], 1234);
    const oneway = scriptedDoveadm(['o1']);
    await expect(replicateAndRecord(deps(oneway), job('mirror'))).resolves.not.toHaveProperty(
      'heldForFailbackSince',
    );
    expect(oneway.calls[0]).toMatchObject({ backup: false, onewaySync: true });
  });

  it('leaves state and last success alone when the sync fails', async () => {
    const doveadm = scriptedDoveadm([new TemporaryFailureError('exit 75', { exitCode: 75 })]);
    await expect(replicateAndRecord(deps(doveadm), job('u4'))).rejects.toBeInstanceOf(
      TemporaryFailureError,
    );
    expect(await redis.get(keys.dsyncState(DEST, 'u4'))).toBeNull();
    expect(await redis.zscore(keys.lastSuccessAt(DEST), 'u4')).toBeNull();
  });

  it('full syncs when the job asks, or when the last full sync is older than the interval', async () => {
    await redis.set(keys.dsyncState(DEST, 'u5'), 'old');
    const doveadm = scriptedDoveadm(['s1', 's2', 's3', 's4']);
    let now = 1_000_000;
    const d = deps(doveadm, { now: () => now, fullSyncIntervalMs: 60_000 });
    await replicateAndRecord(d, job('u5', true));
    expect(doveadm.calls[0]).toMatchObject({ fullSync: true, state: '' });
    expect(await redis.zscore(keys.lastFullSyncAt(DEST), 'u5')).toBe('1000000');
    now += 30_000;
    await replicateAndRecord(d, job('u5'));
    expect(doveadm.calls[1]).toMatchObject({ fullSync: false, state: 's1' });
    now += 30_000;
    await replicateAndRecord(d, job('u5'));
    expect(doveadm.calls[2]).toMatchObject({ fullSync: true, state: '' });
    // Interval 0: never by age, even with no full sync on record.
    await replicateAndRecord(deps(doveadm, { fullSyncIntervalMs: 0 }), job('u5-none'));
    expect(doveadm.calls[3]).toMatchObject({ fullSync: false });
  });

  it('full syncs a user whose state was stored before a crash that may have cost the AOF its last writes', async () => {
    const doveadm = scriptedDoveadm(['s1', 's2', 's3']);
    let now = 5_000;
    const d = deps(doveadm, { now: () => now, fullSyncIntervalMs: 0 });
    await replicateAndRecord(d, job('crash'));
    now = 6_000;
    await redis.set(keys.statesSuspectBefore, '5500');
    await replicateAndRecord(d, job('crash'));
    await replicateAndRecord(d, job('crash'));
    await redis.del(keys.statesSuspectBefore);
    expect(doveadm.calls.map(({ state, fullSync }) => ({ state, fullSync }))).toEqual([
      { state: '', fullSync: false },
      // Stored at 5,000, before the crash at 5,500: not trusted.
      { state: '', fullSync: true },
      // Stored at 6,000, after it: incremental again.
      { state: 's2', fullSync: false },
    ]);
  });

  it('full syncs after a call that was abandoned (its dsync may have gone on), or answered with a failure that may have changed B', async () => {
    const doveadm = scriptedDoveadm([
      's1',
      new RequestTimeoutError('timed out', 1000),
      's2',
      new TemporaryFailureError('exit 75', { exitCode: 75 }),
      's3',
      new AbortedError('aborted'),
      's4',
    ]);
    const d = deps(doveadm, { fullSyncIntervalMs: 0 });
    await replicateAndRecord(d, job('gone'));
    await expect(replicateAndRecord(d, job('gone'))).rejects.toBeInstanceOf(RequestTimeoutError);
    await replicateAndRecord(d, job('gone'));
    await expect(replicateAndRecord(d, job('gone'))).rejects.toBeInstanceOf(TemporaryFailureError);
    await replicateAndRecord(d, job('gone'));
    await expect(replicateAndRecord(d, job('gone'))).rejects.toBeInstanceOf(AbortedError);
    // A worker killed mid-call leaves the same mark as the abort above.
    await replicateAndRecord(d, job('gone'));
    expect(doveadm.calls.map(({ state, fullSync }) => ({ state, fullSync }))).toEqual([
      { state: '', fullSync: false },
      { state: 's1', fullSync: false },
      // After the timeout: the state may be older than B.
      { state: '', fullSync: true },
      { state: 's2', fullSync: false },
      // After exit 75: the run may have changed B before it failed, and its state is lost.
      { state: '', fullSync: true },
      { state: 's3', fullSync: false },
      { state: '', fullSync: true },
    ]);
    expect(await redis.exists(keys.syncInFlight(DEST, 'gone'))).toBe(0);
  });

  it('keeps syncing incrementally after an answer that cannot have changed B (unknown user)', async () => {
    const doveadm = scriptedDoveadm([
      's1',
      new UnknownUserError('exit 67', { exitCode: 67 }),
      's2',
    ]);
    const d = deps(doveadm, { fullSyncIntervalMs: 0 });
    await replicateAndRecord(d, job('unknown'));
    await expect(replicateAndRecord(d, job('unknown'))).rejects.toBeInstanceOf(UnknownUserError);
    expect(await redis.exists(keys.syncInFlight(DEST, 'unknown'))).toBe(0);
    await replicateAndRecord(d, job('unknown'));
    expect(doveadm.calls[2]).toMatchObject({ state: 's1', fullSync: false });
  });

  it('records the mailboxes that leave the dsync state (deleted on the source) until the repair settles them', async () => {
    const [g1, g2] = ['18f4e12019820e6b7d12000083ecc375', 'd03fd21343820e6ba016000083ecc375'];
    const doveadm = scriptedDoveadm([stateOf([g1, g2]), stateOf([g2]), stateOf([g2])]);
    const d = deps(doveadm, { fullSyncIntervalMs: 0 });
    expect((await replicateAndRecord(d, job('del'))).destinations[0]?.departedMailboxes).toEqual(
      [],
    );
    expect((await replicateAndRecord(d, job('del'))).destinations[0]?.departedMailboxes).toEqual([
      g1,
    ]);
    expect(await redis.zrange(keys.departedMailboxes(DEST, 'del'), 0, -1)).toEqual([g1]);
    // Still pending on the next sync, until the folder repair sees B without it.
    expect((await replicateAndRecord(d, job('del'))).destinations[0]?.departedMailboxes).toEqual([
      g1,
    ]);
  });

  it('counts a mailbox that a failed run may have made on the replica as departed once the source lost it', async () => {
    const [kept, made, later] = [
      '18f4e12019820e6b7d12000083ecc375',
      'd03fd21343820e6ba016000083ecc375',
      'aa3fd21343820e6ba016000083ecc375',
    ];
    // Run 1 answers exit 2 (it may have made `made` on B, its state is discarded); the source
    // then deletes `made`; run 2 succeeds with a state that never knew it.
    const doveadm = scriptedDoveadm([
      stateOf([kept]),
      new ChangedDuringSyncError('exit 2', { exitCode: 2 }),
      stateOf([kept, later]),
      new TemporaryFailureError('exit 75', { exitCode: 75 }),
      stateOf([kept, later]),
    ]);
    let onSource = [kept, made];
    const d = deps(doveadm, {
      fullSyncIntervalMs: 0,
      sourceMailboxes: () => Promise.resolve(onSource),
    });
    await replicateAndRecord(d, job('made'));
    const second = await replicateAndRecord(d, job('made'));
    expect(second.destinations[0]?.departedMailboxes).toEqual([made]);
    expect(await redis.exists(keys.sourceMailboxesAtFailure(DEST, 'made'))).toBe(0);
    // Across jobs: a run that fails (exit 75) leaves the source's mailboxes noted in Redis.
    onSource = [kept, later, made];
    await expect(replicateAndRecord(d, job('made'))).rejects.toBeInstanceOf(TemporaryFailureError);
    expect((await redis.smembers(keys.sourceMailboxesAtFailure(DEST, 'made'))).sort()).toEqual(
      [kept, later, made].sort(),
    );
    // `later` is still in the state: only `made` counts (already departed from before).
    const third = await replicateAndRecord(d, job('made'));
    expect(third.destinations[0]?.departedMailboxes).toEqual([made]);
    expect(await redis.exists(keys.sourceMailboxesAtFailure(DEST, 'made'))).toBe(0);
  });

  it('lists the source beside a run after a lost state: a folder it copies and the source deletes at once still departs', async () => {
    const [kept, brief] = ['18f4e12019820e6b7d12000083ecc375', 'bb3fd21343820e6ba016000083ecc375'];
    const changed = () => new ChangedDuringSyncError('exit 2', { exitCode: 2 });
    const doveadm = scriptedDoveadm([changed(), changed(), stateOf([kept])]);
    // `brief` is made on A after the listing that follows run 1, copied to B by run 2, and
    // deleted on A before the listing after run 2: only a listing as run 2 starts sees it.
    const listed: number[] = [];
    const d = deps(doveadm, {
      fullSyncIntervalMs: 0,
      sourceMailboxes: () => {
        const briefExists = doveadm.calls.length === 1 && listed.length > 0;
        listed.push(doveadm.calls.length);
        return Promise.resolve(briefExists ? [kept, brief] : [kept]);
      },
    });
    const outcome = await replicateAndRecord(d, job('brief'));
    expect(outcome.destinations[0]?.departedMailboxes).toEqual([brief]);
    // (Sync calls made when listed.) After run 1; beside run 2, as it starts; after run 2;
    // beside run 3. Run 1 had no reason to list beside.
    expect(listed).toEqual([1, 1, 2, 2]);
  });

  it('keeps one state per destination, and replicates the others when one is down', async () => {
    const doveadm = scriptedDoveadm({
      'tcp:b1:1': ['b1-state', 'b1-state-2'],
      'tcp:b2:1': [new TemporaryFailureError('exit 75', { exitCode: 75 }), 'b2-state'],
    });
    const d = deps(doveadm, { destinations: ['tcp:b1:1', 'tcp:b2:1'] });
    const first = replicateAndRecord(d, job('multi'));
    await expect(first).rejects.toBeInstanceOf(DestinationsFailedError);
    await expect(first).rejects.toThrow(/tcp:b2:1: exit 75/);
    expect(await redis.get(keys.dsyncState('tcp:b1:1', 'multi'))).toBe('b1-state');
    expect(await redis.get(keys.dsyncState('tcp:b2:1', 'multi'))).toBeNull();
    expect(await redis.zscore(keys.lastSuccessAt('tcp:b2:1'), 'multi')).toBeNull();
    await replicateAndRecord(d, job('multi'));
    expect(
      doveadm.calls.filter((call) => call.destination === 'tcp:b1:1').map((call) => call.state),
    ).toEqual(['', 'b1-state']);
    expect(await redis.get(keys.dsyncState('tcp:b2:1', 'multi'))).toBe('b2-state');
    expect(await redis.zscore(keys.lastSuccessAt('tcp:b2:1'), 'multi')).not.toBeNull();
  });
});
