import {
  compactLogLine,
  decodeDsyncState,
  describeDsyncState,
  describeSyncs,
  usersOf,
} from './divergence-report';

/** A state as dsync_mailbox_states_export() writes it (the CRC is not checked here). */
function stateOf(
  mailboxes: Array<{ guid: string; uid: number; modseq: number; messages: number }>,
) {
  const records = mailboxes.map((m) => {
    const record = Buffer.alloc(44);
    Buffer.from(m.guid, 'hex').copy(record, 0);
    record.writeUInt32LE(1700000000, 16);
    record.writeUInt32LE(m.uid, 20);
    record.writeUInt32LE(m.modseq % 2 ** 32, 24);
    record.writeUInt32LE(Math.floor(m.modseq / 2 ** 32), 28);
    record.writeUInt32LE(m.messages, 40);
    return record;
  });
  return Buffer.concat([Buffer.from([1, 0, 0, 0]), ...records, Buffer.alloc(4)]).toString('base64');
}

describe('divergence report', () => {
  const inbox = '00112233445566778899aabbccddeeff';

  it('reads what each mailbox of a dsync state says', () => {
    const state = stateOf([{ guid: inbox, uid: 3, modseq: 2 ** 32 + 7, messages: 2 }]);
    expect(decodeDsyncState(state)).toEqual([
      {
        guid: inbox,
        uidValidity: 1700000000,
        lastCommonUid: 3,
        lastCommonModseq: 2 ** 32 + 7,
        messages: 2,
      },
    ]);
    expect(describeDsyncState(state)).toBe(`00112233 uid=3 modseq=${2 ** 32 + 7} n=2`);
    expect(describeDsyncState('')).toBe('(none: full)');
    expect(describeDsyncState(stateOf([]))).toBe('(no mailboxes)');
    expect(describeDsyncState('bm90IGEgc3RhdGU=')).toMatch(/^\(unreadable/);
  });

  it('shows each sync with its answer and the states it went from and to', () => {
    const from = stateOf([{ guid: inbox, uid: 2, modseq: 5, messages: 2 }]);
    const to = stateOf([{ guid: inbox, uid: 3, modseq: 6, messages: 3 }]);
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
      '  t=1.00s sync running no answer from [none: full] to [-]',
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
