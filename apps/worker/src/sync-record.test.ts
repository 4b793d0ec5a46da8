import {
  type DestinationOutcomeWrites,
  type ReplicationState,
  createLogger,
} from '@dovewarden/shared';
import { SyncRecord } from './sync-record';

const silent = createLogger('error', { silent: true });

const DEST = 'tcp:b:1';
const start = {
  storedState: 'old',
  lastFullSyncAt: 100,
  lastSuccessAt: 200,
  suspect: true,
  departedBefore: ['g-before'],
  sourceAtFailure: ['g-failed'],
};

/** A ReplicationState that only notes what a record stores. */
function notingState(): { state: ReplicationState; stored: unknown[] } {
  const stored: unknown[] = [];
  const state = {
    sessions: {
      recordSynced: (...args: unknown[]) => {
        stored.push(['success', ...args]);
        return Promise.resolve();
      },
    },
    destinations: {
      recordOutcomes: (writes: DestinationOutcomeWrites) => {
        stored.push(['failure', writes]);
        return Promise.resolve();
      },
    },
  } as unknown as ReplicationState;
  return { state, stored };
}

describe('SyncRecord', () => {
  it('starts the next run from the last success, in memory, with settled mailboxes gone', () => {
    const record = new SyncRecord('u');
    expect(record.startOf(DEST)).toBeUndefined();
    record.began(DEST, start);
    record.synced({
      destination: DEST,
      user: 'u',
      synced: { state: 's1', fullSync: true, departed: ['g-new'], finishedAt: 300 },
      stateTtlMs: 1000,
    });
    expect(record.startOf(DEST)).toEqual({
      storedState: 's1',
      lastFullSyncAt: 300,
      lastSuccessAt: 300,
      suspect: false,
      departedBefore: ['g-before', 'g-new'],
      sourceAtFailure: [],
    });
    record.settle(DEST, ['g-before']);
    expect(record.startOf(DEST)?.departedBefore).toEqual(['g-new']);
    expect(record.syncedWrites[0]?.synced.settled).toEqual(['g-before']);
    record.synced({
      destination: DEST,
      user: 'u',
      synced: { state: 's2', fullSync: false, departed: [], finishedAt: 400 },
      stateTtlMs: 1000,
    });
    expect(record.startOf(DEST)).toMatchObject({
      storedState: 's2',
      lastFullSyncAt: 300,
      lastSuccessAt: 400,
      departedBefore: ['g-new'],
    });
  });

  it('stores a success or a failure once, with every write of the sync', async () => {
    const record = new SyncRecord('u');
    record.began(DEST, start);
    const write = {
      destination: DEST,
      user: 'u',
      synced: { state: 's1', fullSync: false, departed: [], finishedAt: 300 },
      stateTtlMs: 1000,
    };
    record.synced(write);
    const answered = {
      destination: 'tcp:c:1',
      user: 'u',
      progress: 'printed',
      sourceAtFailure: [],
      replicaMayBeAhead: false,
      stateTtlMs: 1000,
    };
    record.answered(answered);
    const { state, stored } = notingState();
    await record.storeFailure(state, silent);
    await record.storeFailure(state, silent);
    expect(stored).toEqual([
      ['failure', { synced: [write], answered: [answered] }],
      ['failure', { synced: [], answered: [] }],
    ]);

    const success = new SyncRecord('v');
    success.synced({ ...write, user: 'v' });
    const noted = notingState();
    await success.storeSuccess(noted.state, { finishedAt: 500, fullSync: false });
    expect(noted.stored).toEqual([
      ['success', 'v', { finishedAt: 500, fullSync: false }, undefined, [{ ...write, user: 'v' }]],
    ]);
  });

  it('a failure it cannot store leaves the error that ended the sync to the caller', async () => {
    const record = new SyncRecord('u');
    const down = {
      destinations: { recordOutcomes: () => Promise.reject(new Error('Redis is down')) },
    } as unknown as ReplicationState;
    const warnings: unknown[] = [];
    const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Parameters<
      SyncRecord['storeFailure']
    >[1];
    await expect(record.storeFailure(down, log)).resolves.toBeUndefined();
    expect(warnings).toEqual([
      [
        'could not record what a failed sync did; its next sync runs as a full one',
        { user: 'u', error: 'Redis is down' },
      ],
    ]);
  });
});
