import { jobData, jobTitle, reasonLabel, redactForDisplay } from './job-formatters';

describe('board formatters', () => {
  const data = {
    user: 'u1@example.com',
    reason: { kind: 'imap', command: 'APPEND', mailbox: 'INBOX' },
    requestedAt: 0,
  };
  it('titles a job with its user and reason', () => {
    expect(jobTitle({ name: 'sync-user', data })).toBe('u1@example.com · IMAP APPEND INBOX');
    expect(
      jobTitle({
        name: 'sync-user',
        data: { ...data, fullSync: true, reason: { kind: 'background' } },
      }),
    ).toBe('u1@example.com · background · full');
    expect(jobTitle({ name: 'sweep', data: {} })).toBe('sweep');
    expect(reasonLabel({ kind: 'delivery' })).toBe('delivery');
  });
  it('shows readable data and redacts secrets and dsync states', () => {
    expect(jobData(data)).toEqual({
      user: 'u1@example.com',
      reason: 'IMAP APPEND INBOX',
      fullSync: false,
      firstChangeAt: '1970-01-01T00:00:00.000Z',
    });
    expect(
      redactForDisplay({ runs: 1, destinations: [{ state: 'AQAAAG', password: 'x' }] }),
    ).toEqual({
      runs: 1,
      destinations: [{ state: '[redacted]', password: '[redacted]' }],
    });
  });
});
