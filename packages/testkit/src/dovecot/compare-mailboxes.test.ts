import { DovecotError } from './dovecot-error';
import type { DovecotServer } from './dovecot-server';
import { snapshotUser } from './compare-mailboxes';

const STATUS = 'mailbox\tmessages\tuidnext\tuidvalidity\tguid\nINBOX\t1\t2\t100\tg-inbox\n';
const FETCH = 'mailbox\tguid\nINBOX\tm1\n';

/** A server whose `mailbox status` fails the way doveadm does when a sync renames a listed mailbox. */
function racingServer(
  failures: number,
  error: () => Error,
): { server: DovecotServer; calls: () => number } {
  let statusCalls = 0;
  const server = {
    hasHome: () => true,
    doveadm: (args: string[]) => {
      if (args.includes('status')) {
        statusCalls += 1;
        if (statusCalls <= failures) return Promise.reject(error());
        return Promise.resolve(STATUS);
      }
      return Promise.resolve(FETCH);
    },
  } as unknown as DovecotServer;
  return { server, calls: () => statusCalls };
}

const vanished = (): Error =>
  new DovecotError(
    'DOVEADM_FAILED',
    "doveadm -f tab mailbox status ... on B exited 68: doveadm(user1): Error: cmd mailbox status: Mailbox Archive: Failed to lookup mailbox status: Mailbox doesn't exist: Archive",
    { exitCode: 68 },
  );

describe('snapshotUser', () => {
  it('reads again when a mailbox vanished between the listing and its lookup', async () => {
    const { server, calls } = racingServer(2, vanished);
    const snapshot = await snapshotUser(server, 'user1');
    expect(calls()).toBe(3);
    expect(snapshot.get('INBOX')).toEqual({
      messages: '1',
      uidnext: '2',
      uidvalidity: '100',
      guid: 'g-inbox',
      messageGuids: ['m1'],
    });
  });

  it('fails on any other doveadm error', async () => {
    const { server, calls } = racingServer(
      1,
      () =>
        new DovecotError('DOVEADM_FAILED', 'doveadm ... exited 75: Internal error', {
          exitCode: 75,
        }),
    );
    await expect(snapshotUser(server, 'user1')).rejects.toThrow('exited 75');
    expect(calls()).toBe(1);
  });

  it('gives up when the mailbox keeps vanishing', async () => {
    const { server } = racingServer(Number.POSITIVE_INFINITY, vanished);
    await expect(snapshotUser(server, 'user1')).rejects.toThrow("Mailbox doesn't exist");
  });
});
