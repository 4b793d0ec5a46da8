import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import {
  AbortedError,
  AuthenticationError,
  ChangedDuringSyncError,
  TemporaryFailureError,
  UnexpectedResponseError,
  UnknownUserError,
  ConnectionError,
  InvalidArgumentError,
  NotFoundError,
  NotPossibleError,
  RequestTimeoutError,
} from '../errors';
import { DoveadmTcpClient, tabEscape, tabUnescape } from './doveadm-tcp-client';

/** A doveadm service as 2.4.1 answers a version 1.0 client (captured against a real one). */
class FakeDoveadmService {
  readonly commands: string[][] = [];
  answer: (args: string[]) => string = () => '\n+\n';
  silent = false;

  private constructor(
    readonly server: Server,
    readonly password: string,
  ) {}

  static async start(password = 'secret'): Promise<FakeDoveadmService> {
    const server = createServer();
    const fake = new FakeDoveadmService(server, password);
    server.on('connection', (socket) => fake.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get destination(): string {
    return `tcp:127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private serve(socket: Socket): void {
    let buffer = '';
    let authenticated = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line.startsWith('VERSION\t')) socket.write('-\n');
        else if (line.startsWith('PLAIN\t')) {
          const plain = Buffer.from(line.slice(6), 'base64').toString();
          authenticated = plain === `\0doveadm\0${this.password}`;
          socket.write(authenticated ? '+\n' : '-\n');
          if (!authenticated) socket.end();
        } else if (authenticated) {
          const args = line.split('\t').map(tabUnescape);
          this.commands.push(args);
          if (!this.silent) socket.write(this.answer(args));
        }
      }
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('DoveadmTcpClient (the doveadm protocol 1.0 over TCP)', () => {
  let service: FakeDoveadmService;
  let client: DoveadmTcpClient;

  beforeEach(async () => {
    service = await FakeDoveadmService.start();
    client = new DoveadmTcpClient({ destination: service.destination, password: 'secret' });
  });

  afterEach(() => service.close());

  it('lists mailboxes with their GUIDs, names with tabs and newlines included', async () => {
    service.answer = () => `INBOX\tg0\t${tabEscape('Odd\tname\nhere')}\tg1\t\n+\n`;
    expect(await client.mailboxStatus('user@example.org', ['guid'])).toEqual([
      { mailbox: 'INBOX', guid: 'g0' },
      { mailbox: 'Odd\tname\nhere', guid: 'g1' },
    ]);
    expect(service.commands).toEqual([['', 'user@example.org', 'mailbox status', 'guid', '*']]);
  });

  it("maps mailbox status columns in doveadm's print order, not the order asked", async () => {
    // doveadm prints messages, uidnext, ..., guid, whatever the order of the field list.
    service.answer = () => 'Work\t3\t4\tg1\t\n+\n';
    expect(await client.mailboxStatus('u', ['guid', 'uidnext', 'messages'])).toEqual([
      { mailbox: 'Work', messages: '3', uidnext: '4', guid: 'g1' },
    ]);
  });

  it('renames without touching subscriptions, and maps the exit-code names', async () => {
    await client.mailboxRename('u', 'Old', 'New');
    expect(service.commands[0]).toEqual(['', 'u', 'mailbox rename', 'Old', 'New']);
    service.answer = () => '\n-NOTFOUND\n';
    await expect(client.mailboxRename('u', 'Gone', 'X')).rejects.toBeInstanceOf(NotFoundError);
    service.answer = () => '\n-DATAERR\n';
    await expect(client.mailboxRename('u', 'A', 'Taken')).rejects.toBeInstanceOf(NotPossibleError);
  });

  it('says so when the password is refused, without printing it', async () => {
    const wrong = new DoveadmTcpClient({ destination: service.destination, password: 'nope-pw' });
    const attempt = wrong.mailboxStatus('u', ['guid']);
    await expect(attempt).rejects.toBeInstanceOf(AuthenticationError);
    await expect(attempt).rejects.not.toThrow(/nope-pw/);
  });

  it('times out, aborts, and reports a refused connection', async () => {
    service.silent = true;
    await expect(
      client.mailboxStatus('u', ['guid'], '*', { timeoutMs: 100 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    const controller = new AbortController();
    const call = client.mailboxStatus('u', ['guid'], '*', { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(AbortedError);
    const destination = service.destination;
    await service.close();
    const closed = new DoveadmTcpClient({ destination, password: 'secret' });
    await expect(closed.mailboxStatus('u', ['guid'])).rejects.toBeInstanceOf(ConnectionError);
    service = await FakeDoveadmService.start();
  });

  it('syncs with the parameters as doveadm sync options, and returns the printed state', async () => {
    // As 2.4.1 answered `sync -1 -N -l 30 -s "" tcp:…` (captured here).
    service.answer = () => 'AQAAAHm4+Jk=\t\n+\n';
    await expect(
      client.sync('user1', {
        destination: 'tcp:replica:12345',
        state: '',
        onewaySync: true,
        allNamespaces: true,
        fullSync: true,
        lockTimeout: 30,
        timeout: 565,
        excludeMailbox: ['Trash'],
      }),
    ).resolves.toEqual({ state: 'AQAAAHm4+Jk=' });
    expect(service.commands[0]).toEqual([
      '',
      'user1',
      'sync',
      '-1',
      '-N',
      '-f',
      '-l',
      '30',
      '-T',
      '565',
      '-x',
      'Trash',
      '-s',
      '',
      'tcp:replica:12345',
    ]);
  });

  it("keeps dsync's printed state with an exit 2 and with a lock timeout; none when nothing was printed", async () => {
    service.answer = () => 'NEWSTATE=\t\n-CHANGED\n';
    const changed = await client
      .sync('u', { destination: 'tcp:b:1', state: 'OLD=' })
      .catch((error: unknown) => error);
    expect(changed).toBeInstanceOf(ChangedDuringSyncError);
    expect(changed).toMatchObject({ exitCode: 2, dsyncState: 'NEWSTATE=' });

    // A lock timeout, as 2.4.1 answered it: the state it was given, then TEMPFAIL.
    service.answer = () => 'OLD=\t\n-TEMPFAIL\n';
    await expect(client.sync('u', { destination: 'tcp:b:1', state: 'OLD=' })).rejects.toMatchObject(
      { constructor: TemporaryFailureError, exitCode: 75, dsyncState: 'OLD=' },
    );

    // B unreachable, or an unknown user: dsync never ran and printed nothing.
    service.answer = () => '\n-NOUSER\n';
    const unknown = await client
      .sync('nosuch', { destination: 'tcp:b:1', state: '' })
      .catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(UnknownUserError);
    expect((unknown as UnknownUserError).dsyncState).toBeUndefined();

    service.answer = () => '\n+\n';
    await expect(client.sync('u', { destination: 'tcp:b:1', state: '' })).rejects.toBeInstanceOf(
      UnexpectedResponseError,
    );
  });

  it('refuses a sync it cannot send', async () => {
    await expect(
      client.sync('u', { destination: ['tcp:b:1', 'tcp:c:1'], state: '' }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      client.sync('u', { destination: 'tcp:b:1', state: '', lockTimeout: 1.5 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(service.commands).toEqual([]);
  });

  it('lists folders or subscriptions, and unsubscribes names', async () => {
    service.answer = (args) =>
      args.includes('-s') ? 'INBOX\tgone-temp-1\t\n+\n' : 'INBOX\ta\ta/b\t\n+\n';
    expect(await client.mailboxList('u')).toEqual(['INBOX', 'a', 'a/b']);
    expect(await client.mailboxList('u', { subscriptions: true })).toEqual([
      'INBOX',
      'gone-temp-1',
    ]);
    service.answer = () => '\n+\n';
    await client.mailboxUnsubscribe('u', ['gone-temp-1', 'x']);
    await client.mailboxUnsubscribe('u', []);
    expect(service.commands.map((c) => c.slice(2))).toEqual([
      ['mailbox list'],
      ['mailbox list', '-s'],
      ['mailbox unsubscribe', 'gone-temp-1', 'x'],
    ]);
  });

  it('fetches rows of the fields asked, and reads as readMany does, each read settled on its own', async () => {
    service.answer = (args) => {
      if (args[2] === 'fetch') return 'INBOX\t1\tg1\t\\Seen $Work\tINBOX\t2\tg2\t\t\n+\n';
      if (args[2] === 'mailbox status') return '\n-NOTFOUND\n';
      return 'INBOX\t\n+\n';
    };
    expect(await client.fetch('u', ['mailbox', 'uid', 'guid', 'flags'], ['all'])).toEqual([
      { mailbox: 'INBOX', uid: '1', guid: 'g1', flags: '\\Seen $Work' },
      { mailbox: 'INBOX', uid: '2', guid: 'g2', flags: '' },
    ]);
    const read = await client.readMany('u', {
      tree: { mailboxList: {} },
      statuses: { mailboxStatus: { fields: ['messages'], mask: '*' } },
      messages: { fetch: { fields: ['uid'], query: ['all'] } },
    });
    expect(read.tree).toEqual({ status: 'fulfilled', value: ['INBOX'] });
    expect(read.statuses.status).toBe('rejected');
    expect(read.messages).toEqual({
      status: 'fulfilled',
      // Four values in rows of one field.
      value: [
        { uid: 'INBOX' },
        { uid: '1' },
        { uid: 'g1' },
        { uid: '\\Seen $Work' },
        { uid: 'INBOX' },
        { uid: '2' },
        { uid: 'g2' },
        { uid: '' },
      ],
    });
    service.answer = () => 'a\tb\tc\t\n+\n';
    await expect(client.fetch('u', ['uid', 'guid'], ['all'])).rejects.toBeInstanceOf(
      UnexpectedResponseError,
    );
    await expect(client.fetch('u', ['uid;rm'], ['all'])).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('refuses what it cannot send', () => {
    expect(() => new DoveadmTcpClient({ destination: 'tcps:b:1', password: 'x' })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new DoveadmTcpClient({ destination: 'tcp:b:1', password: '' })).toThrow(
      InvalidArgumentError,
    );
  });
});
