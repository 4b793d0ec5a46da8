import { FakeDoveadmServer, raw, type ReceivedRequest } from './__tests__/fake-doveadm-server';
import { DoveadmClient } from './doveadm-client';
import {
  AuthenticationError,
  ConnectionError,
  InvalidArgumentError,
  InvalidRequestError,
  NotFoundError,
  UnexpectedResponseError,
  UnknownMethodError,
  UnknownUserError,
} from './errors';

type Command = [string, Record<string, unknown>, string];

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

const commandsOf = (request: ReceivedRequest): Command[] => JSON.parse(request.body) as Command[];

/** Answers every command of a request in order, as doveadm does: a payload or an exit code. */
function each(answerFor: (command: Command) => unknown): (request: ReceivedRequest) => {
  body: string;
} {
  return (request) => ({
    body: JSON.stringify(
      commandsOf(request).map((command) => {
        const payload = answerFor(command);
        return typeof payload === 'number'
          ? ['error', { type: 'exitCode', exitCode: payload }, command[2]]
          : ['doveadmResponse', payload, command[2]];
      }),
    ),
  });
}

/** What Dovecot 2.4.1 answers for user1 with INBOX and a/b (a listed for its child). */
function mailboxes(command: Command): unknown {
  const [name, params] = command;
  if (name === 'mailboxList') {
    return params.subscriptions === true
      ? [{ mailbox: 'INBOX' }]
      : [{ mailbox: 'INBOX' }, { mailbox: 'a' }, { mailbox: 'a/b' }];
  }
  if (name === 'mailboxStatus') {
    return [
      { mailbox: 'INBOX', messages: '1', guid: 'g1' },
      { mailbox: 'a/b', messages: '0', guid: 'g2' },
    ];
  }
  if (name === 'fetch') return [{ mailbox: 'INBOX', uid: '1' }];
  return 64;
}

const SNAPSHOT_READS = {
  tree: { mailboxList: {} },
  subscribed: { mailboxList: { subscriptions: true } },
  statuses: { mailboxStatus: { fields: ['messages', 'guid'], mask: '*' } },
  messages: { fetch: { fields: ['mailbox', 'uid'], query: ['all'] } },
} as const;

describe('readMany', () => {
  it('sends every read in ONE request, in order, each with its own tag', async () => {
    server.respondWith(each(mailboxes));

    const read = await client.readMany('user1', SNAPSHOT_READS);

    expect(server.requests).toHaveLength(1);
    const sent = server.lastCommands();
    expect(sent.map(([name, params]) => [name, params])).toEqual([
      ['mailboxList', { user: 'user1', mailboxMask: ['*'] }],
      ['mailboxList', { user: 'user1', mailboxMask: ['*'], subscriptions: true }],
      ['mailboxStatus', { user: 'user1', field: ['messages', 'guid'], mailboxMask: ['*'] }],
      ['fetch', { user: 'user1', field: ['mailbox', 'uid'], query: ['all'] }],
    ]);
    expect(new Set(sent.map(([, , tag]) => tag)).size).toBe(4);
    expect(read).toEqual({
      tree: { status: 'fulfilled', value: ['INBOX', 'a', 'a/b'] },
      subscribed: { status: 'fulfilled', value: ['INBOX'] },
      statuses: {
        status: 'fulfilled',
        value: [
          { mailbox: 'INBOX', messages: '1', guid: 'g1' },
          { mailbox: 'a/b', messages: '0', guid: 'g2' },
        ],
      },
      messages: { status: 'fulfilled', value: [{ mailbox: 'INBOX', uid: '1' }] },
    });
    // The types follow the reads: these lines only compile if they do.
    if (read.statuses.status === 'fulfilled') {
      const guid: string | undefined = read.statuses.value[0]?.guid;
      expect(guid).toBe('g1');
    }
    if (read.messages.status === 'fulfilled') {
      const uid: string | undefined = read.messages.value[0]?.uid;
      expect(uid).toBe('1');
    }
  });

  it('settles a failed command with the error it alone would throw; the others still answer', async () => {
    // Dovecot 2.4.1 and 2.3.19: a mailbox gone before its status is exit 68 for that tag only.
    server.respondWith(
      each((command) => (command[0] === 'mailboxStatus' ? 68 : mailboxes(command))),
    );

    const read = await client.readMany('user1', SNAPSHOT_READS);

    expect(read.tree).toEqual({ status: 'fulfilled', value: ['INBOX', 'a', 'a/b'] });
    expect(read.messages.status).toBe('fulfilled');
    expect(read.statuses.status).toBe('rejected');
    const reason: unknown = read.statuses.status === 'rejected' ? read.statuses.reason : undefined;
    expect(reason).toBeInstanceOf(NotFoundError);

    // The same error as the command sent alone.
    const alone = await client
      .mailboxStatus('user1', ['messages', 'guid'])
      .catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(NotFoundError);
    expect((reason as Error).message).toBe((alone as Error).message);
    expect((reason as NotFoundError).exitCode).toBe(68);
  });

  it('finds each answer by its tag, whatever the order of the entries', async () => {
    server.respondWith((request) => {
      const entries = JSON.parse(each(mailboxes)(request).body) as unknown[];
      return { body: JSON.stringify(entries.reverse()) };
    });

    const read = await client.readMany('user1', SNAPSHOT_READS);

    expect(read.tree).toEqual({ status: 'fulfilled', value: ['INBOX', 'a', 'a/b'] });
    expect(read.subscribed).toEqual({ status: 'fulfilled', value: ['INBOX'] });
  });

  it('maps every error entry as one command would: 67, unknownMethod, invalidRequest, malformed', async () => {
    server.respondWith((request) => {
      const [a, b, c, d] = commandsOf(request).map((command) => command[2]);
      return {
        body: JSON.stringify([
          ['error', { type: 'exitCode', exitCode: 67 }, a],
          ['error', { type: 'unknownMethod', exitCode: 0 }, b],
          ['error', { type: 'invalidRequest', exitCode: 0 }, c],
          ['doveadmResponse', [{ mailbox: 'INBOX', uid: 1 }], d],
        ]),
      };
    });

    const read = await client.readMany('nobody', SNAPSHOT_READS);

    const reasons = Object.values(read).map((entry: PromiseSettledResult<unknown>) =>
      entry.status === 'rejected' ? (entry.reason as Error) : undefined,
    );
    expect(reasons[0]).toBeInstanceOf(UnknownUserError);
    expect(reasons[0]?.message).toMatch(/^doveadm mailboxList for user "nobody": .*\(exit 67\)$/);
    expect(reasons[1]).toBeInstanceOf(UnknownMethodError);
    expect(reasons[2]).toBeInstanceOf(InvalidRequestError);
    // A non-string uid: what fetch() alone throws.
    expect(reasons[3]).toBeInstanceOf(UnexpectedResponseError);
    expect(reasons[3]?.message).toContain(
      'doveadm fetch for user "nobody": a fetched message lacks',
    );
  });

  it('reads the answer of Dovecot 2.3.19, which leaves out commas next to unknownMethod and invalidRequest', async () => {
    // The body 2.3.19 sent for [nosuch, mailboxList, mailboxList of an unknown user,
    // mailboxList with an unknown parameter, mailboxList] (measured), with our tags.
    server.respondWith((request) => {
      const [a, b, c, d] = commandsOf(request).map((command) => JSON.stringify(command[2]));
      return {
        body:
          `[["error",{"type":"unknownMethod", "exitCode":0},${a}]` +
          `["doveadmResponse",[{"mailbox":"Sent"},{"mailbox":"a]["}],${b}],` +
          `["error",{"type":"exitCode", "exitCode":67},${c}]` +
          `["error",{"type":"invalidRequest", "exitCode":67},${d}]]`,
      };
    });

    const read = await client.readMany('user1', {
      a: { mailboxList: {} },
      b: { mailboxList: {} },
      c: { mailboxList: {} },
      d: { mailboxList: {} },
    });

    expect(server.requests).toHaveLength(1);
    expect(read.b).toEqual({ status: 'fulfilled', value: ['Sent', 'a]['] });
    expect(read.a.status === 'rejected' && read.a.reason).toBeInstanceOf(UnknownMethodError);
    expect(read.c.status === 'rejected' && read.c.reason).toBeInstanceOf(UnknownUserError);
    expect(read.d.status === 'rejected' && read.d.reason).toBeInstanceOf(InvalidRequestError);
  });

  it('asks a command again alone when the answer leaves it out (a server answering only the first)', async () => {
    server.respondWith((request) =>
      each(mailboxes)({ ...request, body: JSON.stringify(commandsOf(request).slice(0, 1)) }),
    );

    const read = await client.readMany('user1', SNAPSHOT_READS);

    expect(server.requests.map((request) => commandsOf(request).length)).toEqual([4, 1, 1, 1]);
    expect(server.requests.slice(1).map((request) => commandsOf(request)[0]?.[0])).toEqual([
      'mailboxList',
      'mailboxStatus',
      'fetch',
    ]);
    expect(read.subscribed).toEqual({ status: 'fulfilled', value: ['INBOX'] });
    expect(read.messages).toEqual({ status: 'fulfilled', value: [{ mailbox: 'INBOX', uid: '1' }] });
  });

  it('asks every command again alone when a 200 answer is no JSON array', async () => {
    let batch = true;
    server.respondWith((request) => {
      if (batch) {
        batch = false;
        return { body: 'not json', contentType: 'text/plain' };
      }
      return each(mailboxes)(request);
    });

    const read = await client.readMany('user1', SNAPSHOT_READS);

    expect(server.requests.map((request) => commandsOf(request).length)).toEqual([4, 1, 1, 1, 1]);
    expect(Object.values(read).every((entry) => entry.status === 'fulfilled')).toBe(true);
  });

  it('rejects as a whole when the request itself fails', async () => {
    server.respondWith(raw(401, ''));
    await expect(client.readMany('user1', SNAPSHOT_READS)).rejects.toBeInstanceOf(
      AuthenticationError,
    );

    server.respondWith(() => ({ closeWithoutAnswer: true }));
    const failure = await client.readMany('user1', SNAPSHOT_READS).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConnectionError);
    expect((failure as Error).message).toContain(
      'doveadm mailboxList+mailboxList+mailboxStatus+fetch for user "user1"',
    );
  });

  it('refuses bad reads before sending anything', async () => {
    await expect(client.readMany('', SNAPSHOT_READS)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.readMany('user1', {})).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      client.readMany('user1', { x: { fetch: { fields: [], query: ['all'] } } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      client.readMany('user1', { x: { mailboxStatus: { fields: ['bogus' as 'messages'] } } }),
    ).rejects.toThrow();
    await expect(
      client.readMany('user1', { x: { sync: {} } as unknown as { mailboxList: object } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toHaveLength(0);
  });
});
