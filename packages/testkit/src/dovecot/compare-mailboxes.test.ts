import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DovecotServer } from './dovecot-server';
import { compareMailboxes, snapshotUser } from './compare-mailboxes';

type Command = [string, Record<string, unknown>, string];
/** One command's answer payload, or a doveadm exit code. */
type Handler = (name: string, params: Record<string, unknown>) => unknown;

/**
 * A Doveadm HTTP API on 127.0.0.1 answering from `handler`, in the shapes Dovecot 2.4.1 uses,
 * and a DovecotServer pointing at it.
 */
async function fakeServer(
  handler: Handler,
  hasHome = true,
): Promise<{ server: DovecotServer; commands: string[]; close: () => Promise<void> }> {
  const commands: string[] = [];
  const listener = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const [[name, params, tag]] = JSON.parse(Buffer.concat(chunks).toString()) as Command[];
      commands.push(name);
      const payload = handler(name, params);
      const entry =
        typeof payload === 'number'
          ? ['error', { type: 'exitCode', exitCode: payload }, tag]
          : ['doveadmResponse', payload, tag];
      response.setHeader('Content-Type', 'application/json');
      response.end(JSON.stringify([entry]));
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as AddressInfo;
  const server = {
    hasHome: () => hasHome,
    doveadmHttpUrl: `http://127.0.0.1:${port}`,
    doveadmPassword: 'pw',
  } as unknown as DovecotServer;
  return {
    server,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        listener.closeAllConnections();
        listener.close(() => resolve());
      }),
  };
}

/** user1 with one INBOX message carrying `flags`, subscribed to INBOX. */
function mailbox(flags: string, statusFailures = 0): Handler {
  let statusCalls = 0;
  return (name) => {
    switch (name) {
      case 'mailboxList':
        // The folder list and the subscriptions are the same here.
        return [{ mailbox: 'INBOX' }];
      case 'mailboxStatus':
        statusCalls += 1;
        // A sync renamed a listed mailbox before its lookup: exit 68.
        if (statusCalls <= statusFailures) return 68;
        return [{ mailbox: 'INBOX', messages: '1', uidnext: '2', uidvalidity: '100', guid: 'g' }];
      case 'fetch':
        return [{ mailbox: 'INBOX', uid: '1', guid: 'm1', flags }];
      default:
        return 64;
    }
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function start(handler: Handler, hasHome = true): ReturnType<typeof fakeServer> {
  const fake = await fakeServer(handler, hasHome);
  closers.push(fake.close);
  return fake;
}

describe('snapshotUser', () => {
  it('reads the shared snapshot through the Doveadm HTTP API, again after exit 68', async () => {
    const { server, commands } = await start(mailbox('\\Seen \\Recent', 2));

    await expect(snapshotUser(server, 'user1')).resolves.toEqual({
      folders: [
        {
          name: 'INBOX',
          selectable: true,
          guid: 'g',
          uidvalidity: 100,
          uidnext: 2,
          messageCount: 1,
          messages: [{ uid: 1, guid: 'm1', flags: ['\\Seen'] }],
        },
      ],
      subscriptions: ['INBOX'],
    });
    expect(commands.filter((name) => name === 'mailboxStatus')).toHaveLength(3);
  });

  it('asks nothing about a user without a home: doveadm would create its INBOX', async () => {
    const { server, commands } = await start(mailbox(''), false);

    await expect(snapshotUser(server, 'user1')).resolves.toEqual({
      folders: [],
      subscriptions: [],
    });
    expect(commands).toEqual([]);
  });

  it('fails on any other doveadm error', async () => {
    const { server } = await start(() => 75);
    await expect(snapshotUser(server, 'user1')).rejects.toThrow(/75/);
  });
});

describe('compareMailboxes', () => {
  it('reports flags, which the old comparison never looked at', async () => {
    const a = await start(mailbox('\\Seen \\Flagged'));
    const b = await start(mailbox('\\Seen \\Recent'));

    await expect(compareMailboxes(a.server, b.server, 'user1')).resolves.toEqual({
      equal: false,
      differences: ['user1 INBOX: UID 1 flags: \\Flagged only on A'],
    });
    await expect(compareMailboxes(a.server, a.server, 'user1')).resolves.toEqual({
      equal: true,
      differences: [],
    });
  });

  it('lists every folder of A as missing on a B that never saw the user', async () => {
    const a = await start(mailbox(''));
    const b = await start(mailbox(''), false);

    await expect(compareMailboxes(a.server, b.server, 'user1')).resolves.toEqual({
      equal: false,
      differences: [
        'user1 INBOX: folder on A, missing on B',
        'user1 INBOX: subscribed on A, not on B',
      ],
    });
  });
});
