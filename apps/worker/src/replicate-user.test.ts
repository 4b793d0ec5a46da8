import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ChangedDuringSyncError, TemporaryFailureError } from '@dovewarden/doveadm-client';
import { StateKeys, createLogger } from '@dovewarden/shared';
import {
  MAX_CHANGED_DURING_SYNC_RETRIES,
  type SyncApi,
  SyncKeepsChangingError,
  replicateUser,
} from './replicate-user';

type SyncCall = { user: string; state: string; fullSync: boolean | undefined; destination: string };

/** A scripted doveadm: each call takes the next outcome, a state string or an error. */
function scriptedDoveadm(outcomes: (string | Error)[]): SyncApi & { calls: SyncCall[] } {
  const calls: SyncCall[] = [];
  return {
    calls,
    sync(user, options) {
      calls.push({
        user,
        state: options.state,
        fullSync: options.fullSync,
        destination: options.destination,
      });
      const next = outcomes.shift();
      if (next === undefined) return Promise.reject(new Error('unexpected sync call'));
      return next instanceof Error ? Promise.reject(next) : Promise.resolve({ state: next });
    },
  };
}

describe('replicateUser', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const keys = new StateKeys(`dwtest-worker-${randomBytes(4).toString('hex')}`);
  const logger = createLogger('error', { silent: true });
  const job = (user: string, fullSync?: boolean) => ({
    user,
    reason: { kind: 'manual' as const },
    requestedAt: 1,
    ...(fullSync === undefined ? {} : { fullSync }),
  });

  afterAll(async () => {
    const found = await redis.keys(`${keys.namespace}:*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });

  it('sends "" the first time, then the stored state, and records the success', async () => {
    const doveadm = scriptedDoveadm(['state-1', 'state-2']);
    const deps = { doveadm, redis, keys, destination: 'tcp:b:1', logger, now: () => 5000 };
    await expect(replicateUser(deps, job('u1@example.com'))).resolves.toMatchObject({
      runs: 1,
      incremental: false,
    });
    await expect(replicateUser(deps, job('u1@example.com'))).resolves.toMatchObject({
      runs: 1,
      incremental: true,
    });
    expect(doveadm.calls.map((call) => call.state)).toEqual(['', 'state-1']);
    expect(doveadm.calls[0].destination).toBe('tcp:b:1');
    expect(await redis.get(keys.dsyncState('u1@example.com'))).toBe('state-2');
    expect(await redis.zscore(keys.lastSuccess, 'u1@example.com')).toBe('5000');
    expect(await redis.pttl(keys.dsyncState('u1@example.com'))).toBeGreaterThan(
      29 * 24 * 3600 * 1000,
    );
  });

  it('keeps the old state on exit 2 and runs again at once', async () => {
    await redis.set(keys.dsyncState('u2'), 'old');
    const doveadm = scriptedDoveadm([new ChangedDuringSyncError('exit 2', { exitCode: 2 }), 'new']);
    const outcome = await replicateUser(
      { doveadm, redis, keys, destination: 'd', logger },
      job('u2'),
    );
    expect(outcome).toMatchObject({ runs: 2, fullSync: false });
    expect(doveadm.calls.map((call) => call.state)).toEqual(['old', 'old']);
    expect(await redis.get(keys.dsyncState('u2'))).toBe('new');
  });

  it('never loops on exit 2: a few re-runs, one full sync, then a clear failure', async () => {
    await redis.set(keys.dsyncState('u3'), 'old');
    const changed = () => new ChangedDuringSyncError('exit 2', { exitCode: 2 });
    const doveadm = scriptedDoveadm(
      Array.from({ length: MAX_CHANGED_DURING_SYNC_RETRIES + 2 }, changed),
    );
    const attempt = replicateUser({ doveadm, redis, keys, destination: 'd', logger }, job('u3'));
    await expect(attempt).rejects.toBeInstanceOf(SyncKeepsChangingError);
    await expect(attempt).rejects.toThrow(/exit 2.*full sync/);
    expect(doveadm.calls).toHaveLength(MAX_CHANGED_DURING_SYNC_RETRIES + 2);
    expect(doveadm.calls.at(-1)).toMatchObject({ fullSync: true, state: '' });
    expect(await redis.get(keys.dsyncState('u3'))).toBe('old');
  });

  it('leaves state and last success alone when the sync fails', async () => {
    const doveadm = scriptedDoveadm([new TemporaryFailureError('exit 75', { exitCode: 75 })]);
    await expect(
      replicateUser({ doveadm, redis, keys, destination: 'd', logger }, job('u4')),
    ).rejects.toBeInstanceOf(TemporaryFailureError);
    expect(await redis.get(keys.dsyncState('u4'))).toBeNull();
    expect(await redis.zscore(keys.lastSuccess, 'u4')).toBeNull();
  });

  it('records a full sync when the job asks for one', async () => {
    await redis.set(keys.dsyncState('u5'), 'old');
    const doveadm = scriptedDoveadm(['full-state']);
    await replicateUser(
      { doveadm, redis, keys, destination: 'd', logger, now: () => 7000 },
      job('u5', true),
    );
    expect(doveadm.calls[0]).toMatchObject({ fullSync: true, state: '' });
    expect(await redis.zscore(keys.lastFullSync, 'u5')).toBe('7000');
  });
});
