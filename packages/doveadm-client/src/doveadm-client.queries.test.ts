import {
  answer,
  doveadmError,
  exitCode,
  FakeDoveadmServer,
  raw,
} from './__tests__/fake-doveadm-server';
import { CLIENT_REQUIREMENTS } from './capabilities';
import { DoveadmClient } from './doveadm-client';
import {
  InvalidArgumentError,
  NotFoundError,
  UnexpectedResponseError,
  UnknownMethodError,
  UnknownUserError,
  UnsupportedServerError,
  UserListingFailedError,
} from './errors';

let server: FakeDoveadmServer;
let client: DoveadmClient;

beforeEach(async () => {
  server = await FakeDoveadmServer.start();
  client = new DoveadmClient({ url: server.url, password: 'pw' });
});

afterEach(async () => {
  client.close();
  await server.close();
});

describe('listUsers', () => {
  it('lists the users of the default mask "*"', async () => {
    server.respondWith(answer({ userList: ['user1', 'user2', 'user3'] }));

    await expect(client.listUsers()).resolves.toEqual(['user1', 'user2', 'user3']);
    expect(server.lastCommands()[0].slice(0, 2)).toEqual(['user', { userMask: ['*'] }]);
  });

  it('copes with 200,000 users', async () => {
    const names = Array.from({ length: 200_000 }, (_, i) => `user${i}@example.org`);
    const body = JSON.stringify([['doveadmResponse', { userList: names }, 'dw1']]);
    server.respondWith(() => ({ body }));

    const users = await client.listUsers();

    expect(users).toHaveLength(200_000);
    expect(users[0]).toBe('user0@example.org');
    expect(users[199_999]).toBe('user199999@example.org');
  });

  it('answers an exact name with that user (doveadm looks it up instead of listing)', async () => {
    server.respondWith(answer({ user1: { uid: '5000', gid: '5000', home: '/home/user1' } }));

    await expect(client.listUsers('user1')).resolves.toEqual(['user1']);
  });

  it('answers an exact name that does not exist with an empty list', async () => {
    server.respondWith(exitCode(67));

    await expect(client.listUsers('nobody')).resolves.toEqual([]);
  });

  it('still throws exit 67 for a wildcard mask', async () => {
    server.respondWith(exitCode(67));

    await expect(client.listUsers('user*')).rejects.toBeInstanceOf(UnknownUserError);
  });

  it('reports exit 65 while listing as a temporary failure (the auth worker restarted)', async () => {
    server.respondWith(exitCode(65));

    const failure = client.listUsers();

    await expect(failure).rejects.toBeInstanceOf(UserListingFailedError);
    await expect(failure).rejects.toMatchObject({
      kind: 'temporary',
      exitCode: 65,
      retryable: true,
    });
  });

  it('rejects a user list with non-string entries', async () => {
    server.respondWith(answer({ userList: ['user1', 7] }));

    await expect(client.listUsers()).rejects.toBeInstanceOf(UnexpectedResponseError);
  });
});

describe('mailboxRename', () => {
  it('renames without touching subscriptions (dsync carries them), and reports a missing mailbox as exit 68', async () => {
    server.respondWith(answer([]));
    await client.mailboxRename('user1', 'Old/Name', 'New/Name');
    expect(server.lastCommands()[0].slice(0, 2)).toEqual([
      'mailboxRename',
      { user: 'user1', mailbox: 'Old/Name', newName: 'New/Name' },
    ]);

    server.respondWith(exitCode(68));
    await expect(client.mailboxRename('user1', 'Gone', 'New')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(client.mailboxRename('user1', '', 'New')).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('mailboxUnsubscribe', () => {
  it('drops subscriptions by name in one call, and sends nothing for none', async () => {
    server.respondWith(answer([]));
    await client.mailboxUnsubscribe('user1', ['Gone-temp-1', 'Other']);
    expect(server.lastCommands()[0].slice(0, 2)).toEqual([
      'mailboxUnsubscribe',
      { user: 'user1', mailbox: ['Gone-temp-1', 'Other'] },
    ]);
    const before = server.requests.length;
    await client.mailboxUnsubscribe('user1', []);
    expect(server.requests.length).toBe(before);
    await expect(client.mailboxUnsubscribe('user1', [''])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('mailboxList', () => {
  it('lists folder names, a parent that only exists for its child included', async () => {
    // The answer of Dovecot 2.4.1 after `mailbox create a/b` alone.
    server.respondWith(answer([{ mailbox: 'a' }, { mailbox: 'a/b' }, { mailbox: 'INBOX' }]));

    await expect(client.mailboxList('user1')).resolves.toEqual(['a', 'a/b', 'INBOX']);
    expect(server.lastCommands()[0].slice(0, 2)).toEqual([
      'mailboxList',
      { user: 'user1', mailboxMask: ['*'] },
    ]);
  });

  it('lists the subscribed names when asked', async () => {
    server.respondWith(answer([{ mailbox: 'ghost' }, { mailbox: 'Sent' }]));

    await expect(
      client.mailboxList('user1', { subscriptions: true, mask: ['S*', 'g*'] }),
    ).resolves.toEqual(['ghost', 'Sent']);
    expect(server.lastCommands()[0][1]).toEqual({
      user: 'user1',
      mailboxMask: ['S*', 'g*'],
      subscriptions: true,
    });
  });

  it('rejects an entry without a name, and an empty mask before sending', async () => {
    server.respondWith(answer([{ mailbox: 'INBOX' }, { name: 'x' }]));
    await expect(client.mailboxList('user1')).rejects.toBeInstanceOf(UnexpectedResponseError);

    const sent = server.requests.length;
    await expect(client.mailboxList('user1', { mask: [] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    expect(server.requests).toHaveLength(sent);
  });
});

describe('mailboxStatus', () => {
  const inbox = {
    mailbox: 'INBOX',
    messages: '2',
    uidnext: '3',
    uidvalidity: '1795887899',
    guid: 'd04d2f121b130b6b9145000083ecc375',
  };

  it('returns one typed entry per mailbox', async () => {
    server.respondWith(answer([inbox]));

    const status = await client.mailboxStatus('user1', [
      'messages',
      'uidnext',
      'uidvalidity',
      'guid',
    ]);

    expect(status).toEqual([inbox]);
    expect(status[0].uidvalidity).toBe('1795887899');
    expect(server.lastCommands()[0][1]).toEqual({
      user: 'user1',
      field: ['messages', 'uidnext', 'uidvalidity', 'guid'],
      mailboxMask: ['*'],
    });
  });

  it('refuses fields doveadm would die on, before sending', async () => {
    const fields = ['mailbox'] as unknown as ['messages'];

    await expect(client.mailboxStatus('user1', fields)).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(client.mailboxStatus('user1', [])).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toHaveLength(0);
  });

  it('reports a missing mailbox as exit 68', async () => {
    server.respondWith(exitCode(68));

    await expect(client.mailboxStatus('user1', ['guid'], 'NoSuch')).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('rejects entries lacking a requested field', async () => {
    server.respondWith(answer([{ mailbox: 'INBOX', messages: '2' }]));

    await expect(client.mailboxStatus('user1', ['messages', 'guid'])).rejects.toBeInstanceOf(
      UnexpectedResponseError,
    );
  });
});

describe('fetch', () => {
  const messages = [
    { mailbox: 'INBOX', guid: 'd24d2f121b130b6b9145000083ecc375' },
    { mailbox: 'INBOX', guid: '5183e0141b130b6b9345000083ecc375' },
    { mailbox: 'Sent', guid: '6a2c8e141b130b6b9345000083ecc375' },
  ];

  it('sends fields and query words and returns the rows', async () => {
    server.respondWith(answer(messages));

    const rows = await client.fetch('user1', ['mailbox', 'guid'], ['mailbox', 'INBOX', 'all']);

    expect(rows).toEqual(messages);
    expect(server.lastCommands()[0][1]).toEqual({
      user: 'user1',
      field: ['mailbox', 'guid'],
      query: ['mailbox', 'INBOX', 'all'],
    });
  });

  it('groups message GUIDs by mailbox', async () => {
    server.respondWith(answer(messages));

    const byMailbox = await client.messageGuidsByMailbox('user1');

    expect([...byMailbox]).toEqual([
      ['INBOX', ['d24d2f121b130b6b9145000083ecc375', '5183e0141b130b6b9345000083ecc375']],
      ['Sent', ['6a2c8e141b130b6b9345000083ecc375']],
    ]);
  });

  it('refuses empty fields or query before sending', async () => {
    await expect(client.fetch('user1', [], ['all'])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.fetch('user1', ['guid'], [])).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toHaveLength(0);
  });
});

describe('command', () => {
  it('returns the payload of any command', async () => {
    server.respondWith(answer([{ name: 'INBOX' }]));

    const payload = await client.command<{ name: string }[]>('mailboxList', { user: 'user1' });

    expect(payload).toEqual([{ name: 'INBOX' }]);
    expect(server.lastCommands()[0].slice(0, 2)).toEqual(['mailboxList', { user: 'user1' }]);
  });

  it('classifies errors like the wrapped calls', async () => {
    server.respondWith(doveadmError('unknownMethod'));

    await expect(client.command('nosuch', {})).rejects.toBeInstanceOf(UnknownMethodError);
  });
});

describe('commands and server support', () => {
  const commandList = [
    {
      command: 'sync',
      parameters: CLIENT_REQUIREMENTS.sync.map((name) => ({ name, type: 'string' })),
    },
    { command: 'user', parameters: [{ name: 'userMask', type: 'array' }] },
  ];

  it('reads GET /doveadm/v1', async () => {
    server.respondWith(raw(200, JSON.stringify(commandList)));

    await expect(client.commands()).resolves.toEqual(commandList);
    expect(server.requests[0].method).toBe('GET');
    expect(server.requests[0].url).toBe('/doveadm/v1');
  });

  it('passes when sync and its parameters are known', async () => {
    server.respondWith(raw(200, JSON.stringify(commandList)));

    await expect(client.assertServerSupport()).resolves.toHaveLength(2);
  });

  it('names what is missing', async () => {
    server.respondWith(raw(200, JSON.stringify(commandList)));

    const failure = client.assertServerSupport(CLIENT_REQUIREMENTS);

    await expect(failure).rejects.toBeInstanceOf(UnsupportedServerError);
    await expect(failure).rejects.toMatchObject({
      kind: 'configuration',
      missing: expect.arrayContaining([
        {
          command: 'mailboxStatus',
          commandMissing: true,
          missingParameters: ['user', 'field', 'mailboxMask'],
        },
      ]) as unknown,
    });
  });

  it('rejects a command list of the wrong shape', async () => {
    server.respondWith(raw(200, JSON.stringify([{ command: 'sync' }])));

    await expect(client.commands()).rejects.toBeInstanceOf(UnexpectedResponseError);
  });
});
