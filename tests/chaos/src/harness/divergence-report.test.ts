import { decodeDsyncState } from '@dovewarden/shared';
import { compactLogLine, describeDsyncState, describeSyncs, usersOf } from './divergence-report';

/**
 * dsync states with one mailbox, GUID 00112233445566778899aabbccddeeff (decoded by
 * decodeDsyncState, whose own tests build them field by field).
 */
const STATES = {
  /** last common UID 3, modseq 2^32 + 7, 2 messages. */
  uid3Big: 'AQAAAAARIjNEVWZ3iJmqu8zd7v8A8VNlAwAAAAcAAAABAAAAAAAAAAAAAAACAAAAAAAAAA==',
  /** UID 2, modseq 5, 2 messages. */
  uid2: 'AQAAAAARIjNEVWZ3iJmqu8zd7v8A8VNlAgAAAAUAAAAAAAAAAAAAAAAAAAACAAAAAAAAAA==',
  /** UID 3, modseq 6, 3 messages. */
  uid3: 'AQAAAAARIjNEVWZ3iJmqu8zd7v8A8VNlAwAAAAYAAAAAAAAAAAAAAAAAAAADAAAAAAAAAA==',
  /** No mailbox at all. */
  empty: 'AQAAAAAAAAA=',
};

describe('divergence report', () => {
  it('reads what each mailbox of a dsync state says', () => {
    const state = STATES.uid3Big;
    expect(decodeDsyncState(state)).toEqual([
      {
        guid: '00112233445566778899aabbccddeeff',
        uidValidity: 1700000000,
        lastCommonUid: 3,
        lastCommonModseq: 2 ** 32 + 7,
        messages: 2,
      },
    ]);
    expect(describeDsyncState(state)).toBe(`00112233 uid=3 modseq=${2 ** 32 + 7} n=2`);
    expect(describeDsyncState('')).toBe('(none: full)');
    expect(describeDsyncState(STATES.empty)).toBe('(no mailboxes)');
    expect(describeDsyncState('bm90IGEgc3RhdGU=')).toMatch(/^\(unreadable/);
  });

  it('shows each sync with its answer and the states it went from and to', () => {
    const from = STATES.uid2;
    const to = STATES.uid3;
    const lines = describeSyncs(
      [
        {
          user: 'u1',
          command: 'sync',
          args: ['-1', '-s', from, 'tcp:b'],
          startedAt: 1500,
          endedAt: 1620,
          status: '+',
          printed: [to],
        },
        {
          user: 'u1',
          command: 'sync',
          args: ['-1', '-s', '', 'tcp:b'],
          startedAt: 2000,
          endedAt: undefined,
          status: undefined,
          printed: [],
        },
      ],
      1000,
    );
    expect(lines).toEqual([
      '  t=0.50s sync 120 ms + from [00112233 uid=2 modseq=5 n=2] to [00112233 uid=3 modseq=6 n=3]',
      '  t=1.00s sync running no answer from [(none: full)] to [-]',
    ]);
  });

  it('names the users a comparison found different', () => {
    expect(
      usersOf(
        ['u1 INBOX: messages A=2 B=1', 'u1 INBOX: UID 3 missing', 'u2: subscribed'],
        ['u1', 'u2', 'u3'],
      ),
    ).toEqual(['u1', 'u2']);
  });

  it('shortens a log line to its time, process, message and own fields', () => {
    const line = JSON.stringify({
      context: 'worker',
      level: 'info',
      message: 'synced',
      ms: 78,
      timestamp: '2026-12-06T12:24:37.484Z',
      user: 'u1',
    });
    expect(compactLogLine('worker3', line)).toBe('  12:24:37.484 worker3 info: synced {"ms":78}');
    expect(compactLogLine('ingest0', 'not json')).toBe('  ? ingest0: not json');
  });
});
