import type { ReplicaDifference } from '@dovewarden/shared';
import { verifyReport } from './verify-report';

const differences: ReplicaDifference[] = [
  { kind: 'message-missing', text: 'user1 INBOX: UID 2 (GUID g2) missing on B' },
  { kind: 'subscription-extra', text: 'user1 Old: subscribed on B, not on A' },
];

describe('verifyReport', () => {
  it('says in sync, with the number of mailboxes on the source', () => {
    expect(verifyReport('user1', 3, [], false)).toBe('user1: in sync (3 mailboxes)\n');
  });

  it('counts the differences and indents one line each', () => {
    expect(verifyReport('user1', 3, differences, false)).toBe(
      'user1: 2 difference(s)\n' +
        '  user1 INBOX: UID 2 (GUID g2) missing on B\n' +
        '  user1 Old: subscribed on B, not on A\n',
    );
  });

  it('prints one JSON line with kind and text per difference', () => {
    const line = verifyReport('user1', 3, differences, true);

    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({ user: 'user1', inSync: false, mailboxes: 3, differences });
    expect(JSON.parse(verifyReport('user1', 1, [], true))).toEqual({
      user: 'user1',
      inSync: true,
      mailboxes: 1,
      differences: [],
    });
  });
});
