import { planDestination, planSync } from './sync-plan';

const HOUR = 3_600_000;
const NOW = 10 * HOUR;
const start = (over: { lastFullSyncAt?: number | null; suspect?: boolean } = {}) => ({
  lastFullSyncAt: over.lastFullSyncAt === undefined ? NOW - HOUR : over.lastFullSyncAt,
  suspect: over.suspect ?? false,
});

describe('the sync plan (pure)', () => {
  it('is incremental from a trusted state when nothing asks for more', () => {
    expect(planDestination({}, start(), NOW, 24 * HOUR)).toEqual({
      fullSync: false,
      reason: undefined,
    });
    // No interval configured: never full by age.
    expect(planDestination({}, start({ lastFullSyncAt: null }), NOW, 0).fullSync).toBe(false);
  });

  it.each([
    ['a request asked for it', { fullSync: true }, start(), 'requested'],
    ['the interval has passed', {}, start({ lastFullSyncAt: NOW - 25 * HOUR }), 'interval'],
    ['there never was one', {}, start({ lastFullSyncAt: null }), 'interval'],
    ['the stored state is suspect', {}, start({ suspect: true }), 'suspect-state'],
  ] as const)('is full when %s', (_why, job, from, reason) => {
    expect(planDestination(job, from, NOW, 24 * HOUR)).toEqual({ fullSync: true, reason });
  });

  it("takes the merged requests' full sync, earliest change and second pass over the job's", () => {
    const planned = planSync(
      { user: 'u', reason: { kind: 'delivery' }, requestedAt: 500 },
      { fullSync: true, secondPass: true, requestedAt: 100, priority: 1, changedStreak: 0 },
    );
    expect(planned).toMatchObject({
      user: 'u',
      fullSync: true,
      secondPass: true,
      requestedAt: 100,
    });
  });
});
