import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { SyncUserJobData } from '../queue/catalogue';
import { type DestinationSyncStart, startAfterSynced } from './destination-ledger';
import { ReplicationState } from './replication-state';

const TTL = 60_000;
const DEST = 'tcp:replica.example:12345';

function job(user: string): SyncUserJobData {
  return { user, reason: { kind: 'manual' }, requestedAt: 1_000 };
}

/**
 * The worker's round trips: the claim reads the first destination's start, and a successful
 * sync's state is stored with the user's bookkeeping. Real Redis; each test its own user.
 */
describe('ReplicationState: claim with the first start, success in one transaction', () => {
  const namespace = `dwtest-state-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const state = new ReplicationState(redis, namespace);
  let users = 0;
  const nextUser = (): string => `state-user-${(users += 1)}`;

  afterAll(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('reads what the sync starts from and marks the call in flight, as startDestinationSync', async () => {
    const user = nextUser();
    await redis.set(state.keys.dsyncState(DEST, user), 'stored-state');
    await redis.zadd(state.keys.lastFullSyncAt(DEST), 500, user);
    const { lease, start } = await state.sessions.claim(job(user), TTL, () => undefined, {
      destination: DEST,
      now: 2_000,
      stateTtlMs: TTL,
    });
    expect(lease).toBeDefined();
    expect(start).toEqual({
      storedState: 'stored-state',
      lastFullSyncAt: 500,
      lastSuccessAt: null,
      suspect: false,
      departedBefore: [],
      sourceAtFailure: [],
    });
    expect(await redis.get(state.keys.syncInFlight(DEST, user))).toBe('2000');
    // The same reads without the claim agree, and now see the mark: an abandoned call.
    const again = await state.destinations.start(DEST, user, 3_000, TTL);
    expect(again).toEqual({ ...start, suspect: true });
    await lease?.release();
  });

  it("writes a destination's success alike alone and within the user's success (one Lua rule)", async () => {
    const alone = nextUser();
    const within = nextUser();
    const write = (user: string) => ({
      destination: DEST,
      user,
      synced: { state: `state-${user}`, fullSync: true, departed: ['guid-1'], finishedAt: 5_000 },
      stateTtlMs: TTL,
    });
    for (const user of [alone, within]) {
      await redis.set(state.keys.syncInFlight(DEST, user), '1');
      await redis.sadd(state.keys.sourceMailboxesAtFailure(DEST, user), 'guid-0');
    }
    await state.destinations.recordOutcomes({ synced: [write(alone)], answered: [] });
    await state.sessions.recordSynced(within, { finishedAt: 5_000, fullSync: true }, undefined, [
      write(within),
    ]);
    for (const user of [alone, within]) {
      expect(await redis.get(state.keys.dsyncState(DEST, user))).toBe(`state-${user}`);
      expect(await redis.pttl(state.keys.dsyncState(DEST, user))).toBeGreaterThan(0);
      expect(await redis.exists(state.keys.syncInFlight(DEST, user))).toBe(0);
      expect(await redis.exists(state.keys.sourceMailboxesAtFailure(DEST, user))).toBe(0);
      expect(await redis.zscore(state.keys.lastSuccessAt(DEST), user)).toBe('5000');
      expect(await redis.zscore(state.keys.lastFullSyncAt(DEST), user)).toBe('5000');
      expect(await redis.zrange(state.keys.departedMailboxes(DEST, user), 0, -1)).toEqual([
        'guid-1',
      ]);
    }
  });

  it('what the next run starts from, kept in memory, is what Redis reads back after the write', async () => {
    const user = nextUser();
    await redis.set(state.keys.dsyncState(DEST, user), 'old-state');
    await redis.zadd(
      state.keys.departedMailboxes(DEST, user),
      1_000,
      'guid-old',
      1_100,
      'guid-kept',
    );
    await redis.sadd(state.keys.sourceMailboxesAtFailure(DEST, user), 'guid-0');
    await redis.set(state.keys.syncInFlight(DEST, user), '900');
    const before = await state.destinations.start(DEST, user, 2_000, TTL);
    expect(before.suspect).toBe(true);
    for (const fullSync of [false, true]) {
      const from = fullSync ? await state.destinations.start(DEST, user, 5_000, TTL) : before;
      const synced = {
        state: `new-state-${String(fullSync)}`,
        fullSync,
        departed: ['guid-new'],
        finishedAt: fullSync ? 6_000 : 3_000,
        settled: ['guid-old'],
      };
      await state.destinations.recordOutcomes({
        synced: [{ destination: DEST, user, synced, stateTtlMs: TTL }],
        answered: [],
      });
      const read = await state.destinations.start(DEST, user, 7_000, TTL);
      const inMemory = startAfterSynced(from, synced);
      const sorted = (s: DestinationSyncStart) => ({
        ...s,
        departedBefore: [...s.departedBefore].sort(),
      });
      expect(sorted(inMemory)).toEqual(sorted(read));
      expect(read.departedBefore.sort()).toEqual(['guid-kept', 'guid-new']);
    }
  });

  it("records failed calls: the state an exit 2 printed, the in-flight mark, the source's mailboxes", async () => {
    const ahead = nextUser();
    const settled = nextUser();
    for (const user of [ahead, settled]) {
      await redis.set(state.keys.dsyncState(DEST, user), 'stored');
      await state.destinations.start(DEST, user, 2_000, TTL);
    }
    await state.destinations.recordOutcomes({
      synced: [],
      answered: [
        {
          destination: DEST,
          user: ahead,
          sourceAtFailure: ['guid-a'],
          replicaMayBeAhead: true,
          stateTtlMs: TTL,
        },
        {
          destination: DEST,
          user: settled,
          progress: 'printed-by-exit-2',
          sourceAtFailure: [],
          replicaMayBeAhead: false,
          stateTtlMs: TTL,
        },
      ],
    });
    expect(await redis.get(state.keys.dsyncState(DEST, ahead))).toBe('stored');
    expect(await redis.exists(state.keys.syncInFlight(DEST, ahead))).toBe(1);
    expect(await redis.smembers(state.keys.sourceMailboxesAtFailure(DEST, ahead))).toEqual([
      'guid-a',
    ]);
    expect((await state.destinations.start(DEST, ahead, 3_000, TTL)).suspect).toBe(true);
    expect(await redis.get(state.keys.dsyncState(DEST, settled))).toBe('printed-by-exit-2');
    expect(await redis.exists(state.keys.syncInFlight(DEST, settled))).toBe(0);
    const next = await state.destinations.start(DEST, settled, 3_000, TTL);
    expect(next).toMatchObject({ storedState: 'printed-by-exit-2', suspect: false });
  });

  it("leaves another sync's in-flight mark alone when the lease is held", async () => {
    const user = nextUser();
    const first = await state.sessions.claim(job(user), TTL, () => undefined, {
      destination: DEST,
      now: 2_000,
      stateTtlMs: TTL,
    });
    expect(first.lease).toBeDefined();
    const second = await state.sessions.claim(job(user), TTL, () => undefined, {
      destination: DEST,
      now: 9_000,
      stateTtlMs: TTL,
    });
    expect(second.lease).toBeUndefined();
    expect(second.start).toBeUndefined();
    expect(await redis.get(state.keys.syncInFlight(DEST, user))).toBe('2000');
    await first.lease?.release();
  });

  it('stores held destination states with the success marks, ending the call and the lease', async () => {
    const user = nextUser();
    const { lease } = await state.sessions.claim(job(user), TTL, () => undefined, {
      destination: DEST,
      now: 2_000,
      stateTtlMs: TTL,
    });
    await state.sessions.recordSynced(user, { finishedAt: 4_000, fullSync: true }, lease, [
      {
        destination: DEST,
        user,
        synced: { state: 'new-state', fullSync: true, departed: ['guid-1'], finishedAt: 3_900 },
        stateTtlMs: TTL,
      },
    ]);
    expect(await redis.get(state.keys.dsyncState(DEST, user))).toBe('new-state');
    expect(await redis.exists(state.keys.syncInFlight(DEST, user))).toBe(0);
    expect(await redis.zscore(state.keys.lastFullSyncAt(DEST), user)).toBe('3900');
    expect(await redis.zrange(state.keys.departedMailboxes(DEST, user), 0, -1)).toEqual(['guid-1']);
    expect(await redis.exists(state.keys.lease(user))).toBe(0);
    const status = await state.status.userStatus(user, [DEST]);
    expect(status.lastSuccess).toBe(4_000);
    expect(status.destinations[0]).toEqual({
      destination: DEST,
      lastSuccess: 3_900,
      lastFullSync: 3_900,
      hasState: true,
    });
  });
});

describe('ReplicationState: users by mask, for status MASK, replicate MASK and remove MASK', () => {
  const namespace = `dwtest-mask-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const state = new ReplicationState(redis, namespace);
  const OTHER = 'tcp:second.example:12345';

  afterAll(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  async function scanned(pattern: string, count?: number): Promise<string[][]> {
    const batches: string[][] = [];
    for await (const batch of state.status.scanKnownUsers(pattern, count)) batches.push(batch);
    return batches;
  }

  it('finds synced, failed and unknown users once each, in batches, past a listpack', async () => {
    // 300 synced users: more than Redis keeps as a listpack, so ZSCAN really steps.
    const synced = Array.from({ length: 300 }, (_, i) => `user${i}@example.com`);
    await redis.zadd(state.keys.lastSuccess, ...synced.flatMap((user, i) => [i + 1, user]));
    // Failed after a success (listed once), failed and never synced, unknown to doveadm.
    await redis.zadd(state.keys.failedUsers, 5, 'user0@example.com', 6, 'broken@example.com');
    await redis.zadd(state.keys.unknownUsers, 7, 'gone@example.org', 8, 'broken@example.com');

    const everyone = await scanned('*', 50);
    expect(everyone.length).toBeGreaterThan(1);
    for (const batch of everyone) expect(batch.length).toBeLessThanOrEqual(300);
    const flat = everyone.flat();
    expect(new Set(flat)).toEqual(new Set([...synced, 'broken@example.com', 'gone@example.org']));
    expect(flat.filter((user) => user === 'broken@example.com')).toHaveLength(1);
    expect(flat.filter((user) => user === 'user0@example.com')).toHaveLength(1);

    expect((await scanned('user1?@example.com')).flat().sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `user1${i}@example.com`).sort(),
    );
    expect((await scanned('*@example.org')).flat()).toEqual(['gone@example.org']);
    expect((await scanned('nobody*')).flat()).toEqual([]);
  });

  it("summarises a batch: last success and failure, the oldest destination's full sync, failed", async () => {
    await redis.zadd(state.keys.lastSuccess, 1_000, 'summary-a', 2_000, 'summary-b');
    await redis.zadd(state.keys.lastFullSyncAt(DEST), 500, 'summary-a', 600, 'summary-b');
    await redis.zadd(state.keys.lastFullSyncAt(OTHER), 400, 'summary-a');
    await redis.zadd(state.keys.failedUsers, 3_000, 'summary-b');
    await redis.hset(state.keys.userStatus('summary-b'), 'lastFailureAt', '3000');
    expect(
      await state.status.userSummaries(['summary-a', 'summary-b', 'summary-none'], [DEST, OTHER]),
    ).toEqual([
      {
        user: 'summary-a',
        lastSuccess: 1_000,
        lastFailure: null,
        lastFullSync: 400,
        failed: false,
      },
      // No full sync to the second destination yet: none in all.
      {
        user: 'summary-b',
        lastSuccess: 2_000,
        lastFailure: 3_000,
        lastFullSync: null,
        failed: true,
      },
      {
        user: 'summary-none',
        lastSuccess: null,
        lastFailure: null,
        lastFullSync: null,
        failed: false,
      },
    ]);
    expect(await state.status.userSummaries([], [DEST])).toEqual([]);
  });
});
