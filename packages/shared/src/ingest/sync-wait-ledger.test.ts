import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { StateKeys } from '../replication/state-keys';
import { SyncWaitLedger } from './sync-wait-ledger';

/** Real Redis: the tally for `dovewarden status`, and one delivery's waits by its session. */
describe('SyncWaitLedger', () => {
  const namespace = `dwtest-syncwait-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const keys = new StateKeys(namespace);
  const ledger = new SyncWaitLedger(redis, keys.syncWaitTally, (session, user) =>
    keys.deliveryWaits(session, user),
  );

  afterAll(async () => {
    const found = await redis.keys(`${namespace}:*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });

  it('counts answers by outcome with the last time of each', async () => {
    expect(await ledger.tally()).toBeUndefined();
    await ledger.note('synced', 1_000);
    await ledger.note('synced', 2_000);
    await ledger.note('timeout', 3_000);
    const tally = await ledger.tally();
    expect(tally?.counts).toMatchObject({ synced: 2, timeout: 1, refused: 0 });
    expect(tally?.lastAt).toMatchObject({ synced: 2_000, timeout: 3_000, refused: null });
  });

  it('knows a delivery is on B only when every wait it started ended synced', async () => {
    expect(await ledger.deliveryOnReplica('s1', 'u')).toBe(false);
    await ledger.waitStarted('s1', 'u');
    expect(await ledger.deliveryOnReplica('s1', 'u')).toBe(false);
    await ledger.waitSynced('s1', 'u');
    expect(await ledger.deliveryOnReplica('s1', 'u')).toBe(true);
    // Another recipient of the same transaction, and another user, are their own.
    expect(await ledger.deliveryOnReplica('s1:R2', 'u')).toBe(false);
    expect(await ledger.deliveryOnReplica('s1', 'v')).toBe(false);
    // Two saves in one delivery (a Sieve fileinto and keep), one of them not in time.
    await ledger.waitStarted('s2', 'u');
    await ledger.waitStarted('s2', 'u');
    await ledger.waitSynced('s2', 'u');
    expect(await ledger.deliveryOnReplica('s2', 'u')).toBe(false);
    expect(await redis.pttl(keys.deliveryWaits('s2', 'u'))).toBeGreaterThan(0);
  });
});
