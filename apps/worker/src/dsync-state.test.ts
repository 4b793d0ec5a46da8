import { departedMailboxes, mailboxGuidsOfState } from './dsync-state';

/** A state as dsync exports it: header, 44-byte records, CRC (not checked here). */
function state(guids: string[]): string {
  const records = guids.map((guid) =>
    Buffer.concat([Buffer.from(guid, 'hex'), Buffer.alloc(28, 7)]),
  );
  return Buffer.concat([Buffer.from([1, 0, 0, 0]), ...records, Buffer.alloc(4, 9)]).toString(
    'base64',
  );
}

const G1 = '18f4e12019820e6b7d12000083ecc375';
const G2 = 'd03fd21343820e6ba016000083ecc375';

describe('dsync state', () => {
  it('reads the mailbox GUIDs of a 1.x state', () => {
    expect(mailboxGuidsOfState(state([G1, G2]))).toEqual(new Set([G1, G2]));
    expect(mailboxGuidsOfState(state([]))).toEqual(new Set());
  });

  it('reads nothing from a state it does not know, rather than guess', () => {
    expect(mailboxGuidsOfState('')).toEqual(new Set());
    expect(mailboxGuidsOfState(null)).toEqual(new Set());
    expect(mailboxGuidsOfState('garbage')).toEqual(new Set());
    const v2 = Buffer.from(state([G1]), 'base64');
    v2[0] = 2;
    expect(mailboxGuidsOfState(v2.toString('base64'))).toEqual(new Set());
  });

  it('names the mailboxes that left the state between two syncs', () => {
    expect(departedMailboxes(state([G1, G2]), state([G2]))).toEqual([G1]);
    expect(departedMailboxes(null, state([G2]))).toEqual([]);
    expect(departedMailboxes(state([G1]), state([G1, G2]))).toEqual([]);
  });
});
