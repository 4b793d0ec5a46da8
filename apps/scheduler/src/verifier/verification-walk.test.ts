import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { VerificationLedger, createLogger } from '@dovewarden/shared';
import { type VerifyCount, type WalkDeps, verificationWalk } from './verification-walk';
import { type VerifyOutcome, sampled } from './verify-user';

const differs = (kind: 'flags' | 'message-extra' = 'flags'): VerifyOutcome => ({
  result: 'differs',
  differences: [{ kind, text: `u INBOX: ${kind}` }],
  replicaOnlyMail: kind === 'message-extra',
});
const EQUAL: VerifyOutcome = { result: 'equal', messagesCompared: true };

describe('verificationWalk', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const namespace = `dwtest-verify-${randomBytes(4).toString('hex')}`;
  const ledgers: VerificationLedger[] = [];
  /** A ledger of its own for each test. */
  const newLedger = (): VerificationLedger => {
    const made = new VerificationLedger(redis, `${namespace}-${ledgers.length}`);
    ledgers.push(made);
    return made;
  };
  let ledger = newLedger();
  beforeEach(() => {
    ledger = newLedger();
  });

  afterAll(async () => {
    await redis.del(...ledgers.flatMap((made) => made.keys));
    await redis.quit();
  });

  /** A walk over `users` whose verifications answer from `script`, in order, per user. */
  function walkOf(
    users: string[],
    script: Record<string, VerifyOutcome[]>,
    extra: Partial<WalkDeps> = {},
  ) {
    const counts: VerifyCount[] = [];
    const repairs: string[] = [];
    const errors: string[] = [];
    const logger = createLogger('error', { silent: true });
    logger.error = ((message: string) => {
      errors.push(message);
      return logger;
    }) as typeof logger.error;
    const deps: WalkDeps = {
      listUsers: () =>
        Promise.resolve({
          length: users.length,
          slice: (start: number, end: number) => users.slice(start, end),
          indexOf: (user: string) => users.indexOf(user),
        }),
      ledger,
      verify: (user) => Promise.resolve(script[user]?.shift() ?? EQUAL),
      isBusy: () => Promise.resolve(false),
      wasReplicated: (user) => Promise.resolve(user !== 'never'),
      repair: (user, how) => {
        repairs.push(`${user}:${how}`);
        return Promise.resolve('done' as const);
      },
      waitForLiveWork: () => Promise.resolve(),
      onCount: (counted) => counts.push(counted),
      onDivergence: () => undefined,
      logger,
      repairPollMs: 1,
      ...extra,
    };
    return { deps, counts, repairs, errors };
  }

  it('verifies each user, repairs what differs, verifies it again, and reports once what a repair did not fix', async () => {
    const first = walkOf(['same', 'synced', 'mirrored', 'stuck', 'never', 'b-only'], {
      synced: [differs(), EQUAL],
      mirrored: [differs(), differs(), EQUAL],
      stuck: [differs(), differs(), differs()],
      'b-only': [differs('message-extra'), differs('message-extra')],
    });
    const result = await verificationWalk(first.deps);
    expect(result).toMatchObject({ skipped: false, interrupted: false, listed: 6 });
    // The user's own sync first, a mirror only where B still differs and holds nothing of its own.
    expect(first.repairs).toEqual([
      'synced:sync',
      'mirrored:sync',
      'mirrored:mirror',
      'stuck:sync',
      'stuck:mirror',
      'b-only:sync',
    ]);
    // Each repair is verified at once: one equal again, one not; B-only mail is only reported.
    expect(first.counts).toEqual([
      'equal',
      'repaired',
      'repaired',
      'unrepaired',
      'skipped-never-synced',
      'replica-only-mail',
    ]);
    expect(first.errors).toEqual(['verification: the replica stays different from the source']);
    expect((await ledger.differingUsers()).sort()).toEqual(['b-only', 'stuck']);
    expect(await ledger.differing('stuck')).toMatchObject({ repairs: 1, reported: true });
    expect(await ledger.lastWalk()).toMatchObject({ checked: 5, equal: 3, differing: 2 });
    expect(await ledger.currentWalk()).toBeUndefined();

    // The next walk tries the repair once more, and does not report the same finding again.
    const second = walkOf(['stuck'], { stuck: [differs(), differs(), differs()] });
    await verificationWalk(second.deps);
    expect(second.repairs).toEqual(['stuck:sync', 'stuck:mirror']);
    expect(second.errors).toEqual([]);
    expect(await ledger.differing('stuck')).toMatchObject({ repairs: 2, reported: true });
  });

  it('goes on where a walk cut short stopped, and one walker at a time', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `user${i}`);
    const stop = new AbortController();
    const seen: string[] = [];
    const cut = walkOf(
      users,
      {},
      {
        signal: stop.signal,
        verify: (user) => {
          seen.push(user);
          if (seen.length === 30) stop.abort();
          return Promise.resolve(EQUAL);
        },
      },
    );
    expect(await verificationWalk(cut.deps)).toMatchObject({ interrupted: true });
    const stored = await ledger.currentWalk();
    expect(stored).toMatchObject({ position: 30, lastUser: 'user29' });

    const token = await ledger.acquireLock(10_000);
    expect(await verificationWalk(walkOf(users, {}).deps)).toMatchObject({ skipped: true });
    await ledger.releaseLock(token ?? '');

    const rest: string[] = [];
    const resumed = walkOf(
      users,
      {},
      {
        verify: (user) => {
          rest.push(user);
          return Promise.resolve(EQUAL);
        },
      },
    );
    expect(await verificationWalk(resumed.deps)).toMatchObject({ interrupted: false });
    expect(rest).toEqual(users.slice(30));
    expect((await ledger.lastWalk())?.startedAt).toBe(stored?.startedAt);
  });

  it('reports without repairing a user whose repair must not run, and verifies later one whose repair found the user busy', async () => {
    const t = walkOf(
      ['served', 'locked'],
      { served: [differs()], locked: [differs(), EQUAL] },
      {
        repair: (user) =>
          Promise.resolve(user === 'served' ? ('refused' as const) : ('busy' as const)),
      },
    );
    await verificationWalk(t.deps);
    expect(t.counts).toEqual(['unrepaired', 'differs', 'repaired']);
  });

  it('takes a difference read while a sync of the user got queued for replication at work, not a divergence', async () => {
    let calls = 0;
    const t = walkOf(
      ['racing'],
      { racing: [differs(), EQUAL] },
      {
        // Free before the read, queued by the time the difference is seen, then done.
        isBusy: () => Promise.resolve([false, true, false, false][calls++] ?? false),
      },
    );
    await verificationWalk(t.deps);
    expect(t.repairs).toEqual([]);
    expect(t.counts).toEqual(['skipped-busy', 'equal']);
  });

  it('verifies a user whose sync was running once the sync is over', async () => {
    let busy = 2;
    const t = walkOf(
      ['busy'],
      {},
      {
        isBusy: () => Promise.resolve(busy-- > 0),
      },
    );
    await verificationWalk(t.deps);
    expect(t.counts).toEqual(['skipped-busy', 'equal']);
  });
});

describe('sampled', () => {
  it('reads every message list at 100 %, none at 0 %, about the share asked between', () => {
    const users = Array.from({ length: 2000 }, (_, i) => `u${i}@example.com`);
    expect(users.every((user) => sampled(user, 's', 100))).toBe(true);
    expect(users.some((user) => sampled(user, 's', 0))).toBe(false);
    const share = users.filter((user) => sampled(user, 's', 10)).length / users.length;
    expect(share).toBeGreaterThan(0.07);
    expect(share).toBeLessThan(0.13);
    // Another walk samples other users.
    const other = users.filter((user) => sampled(user, 't', 10));
    expect(other).not.toEqual(users.filter((user) => sampled(user, 's', 10)));
  });
});
