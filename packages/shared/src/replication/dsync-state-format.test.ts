import { decodeDsyncState } from './dsync-state-format';

/** A 1.x state as dsync_mailbox_states_export() writes it (the CRC is not checked). */
function stateOf(records: Array<{ guid: string; uid: number; modseq: number; messages: number }>) {
  const body = records.map((r) => {
    const record = Buffer.alloc(44);
    Buffer.from(r.guid, 'hex').copy(record, 0);
    record.writeUInt32LE(1700000000, 16);
    record.writeUInt32LE(r.uid, 20);
    record.writeUInt32LE(r.modseq % 2 ** 32, 24);
    record.writeUInt32LE(Math.floor(r.modseq / 2 ** 32), 28);
    record.writeUInt32LE(r.messages, 40);
    return record;
  });
  return Buffer.concat([Buffer.from([1, 0, 0, 0]), ...body, Buffer.alloc(4)]).toString('base64');
}

const G1 = '18f4e12019820e6b7d12000083ecc375';
const G2 = 'd03fd21343820e6ba016000083ecc375';

describe('decodeDsyncState', () => {
  it('reads every mailbox record of a 1.x state, 64-bit modseqs included', () => {
    expect(
      decodeDsyncState(
        stateOf([
          { guid: G1, uid: 3, modseq: 2 ** 32 + 7, messages: 2 },
          { guid: G2, uid: 0, modseq: 1, messages: 0 },
        ]),
      ),
    ).toEqual([
      {
        guid: G1,
        uidValidity: 1700000000,
        lastCommonUid: 3,
        lastCommonModseq: 2 ** 32 + 7,
        messages: 2,
      },
      { guid: G2, uidValidity: 1700000000, lastCommonUid: 0, lastCommonModseq: 1, messages: 0 },
    ]);
  });

  it('tells no state, a state without mailboxes and one it cannot read apart', () => {
    expect(decodeDsyncState('')).toEqual([]);
    expect(decodeDsyncState(stateOf([]))).toEqual([]);
    expect(decodeDsyncState('garbage')).toBeUndefined();
    const v2 = Buffer.from(stateOf([{ guid: G1, uid: 1, modseq: 1, messages: 1 }]), 'base64');
    v2[0] = 2;
    expect(decodeDsyncState(v2.toString('base64'))).toBeUndefined();
  });
});
