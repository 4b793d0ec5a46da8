import {
  AuthenticationError,
  ChangedDuringSyncError,
  ConnectionError,
  DoveadmClient,
  HttpServerError,
  SYNC_REQUIREMENTS,
  TemporaryFailureError,
  UnknownUserError,
} from '@dovewarden/doveadm-client';
import { FakeDoveadm, type FakeAnswer } from './fake-doveadm-server';

const PASSWORD = 'secret-fake';
const DEST = 'tcp:replica:1';

describe('FakeDoveadm', () => {
  let fake: FakeDoveadm;
  let client: DoveadmClient;

  beforeEach(async () => {
    fake = await FakeDoveadm.start({ password: PASSWORD, users: ['user1', 'user2', 'other'] });
    client = new DoveadmClient({ url: fake.url, password: PASSWORD });
  });

  afterEach(async () => {
    client.close();
    await fake.stop();
  });

  it('answers a sync with a new state each time and records the call', async () => {
    const first = await client.sync('user1', { destination: DEST, state: '' });
    const second = await client.sync('user1', {
      destination: DEST,
      state: first.state,
      fullSync: true,
    });

    expect(first.state).not.toBe('');
    expect(second.state).not.toBe(first.state);
    const calls = fake.callsFor('user1');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({
      command: 'sync',
      user: 'user1',
      destination: [DEST],
      state: '',
      fullSync: false,
      answer: 'success',
      returnedState: first.state,
    });
    expect(calls[1]).toMatchObject({ state: first.state, fullSync: true });
    expect(calls[0].endedAt).toBeGreaterThanOrEqual(calls[0].startedAt);
    expect(fake.overlaps()).toEqual([]);
  });

  it('lists the sync parameters the client requires', async () => {
    await expect(client.assertServerSupport()).resolves.toEqual(
      expect.arrayContaining([expect.objectContaining({ command: 'sync' })]),
    );
    const sync = (await client.commands()).find((info) => info.command === 'sync');
    expect(sync?.parameters.map((parameter) => parameter.name)).toEqual(
      expect.arrayContaining([...(SYNC_REQUIREMENTS.sync ?? [])]),
    );
  });

  it('lists users by mask and looks up an exact name', async () => {
    await expect(client.listUsers()).resolves.toEqual(['user1', 'user2', 'other']);
    await expect(client.listUsers('user*')).resolves.toEqual(['user1', 'user2']);
    await expect(client.listUsers('user2')).resolves.toEqual(['user2']);
    await expect(client.listUsers('nobody')).resolves.toEqual([]);
  });

  it.each<[number, new (...args: never[]) => Error]>([
    [2, ChangedDuringSyncError],
    [67, UnknownUserError],
    [75, TemporaryFailureError],
  ])('answers exit code %i as doveadm does', async (exitCode, errorClass) => {
    fake.setBehaviour(() => exitCode);

    const failure = client.sync('user1', { destination: DEST, state: 'old' });

    await expect(failure).rejects.toBeInstanceOf(errorClass);
    await expect(failure).rejects.toMatchObject({ exitCode });
    expect(fake.calls[0]).toMatchObject({ answer: exitCode, returnedState: undefined });
  });

  it('answers 401 to a wrong password, and accepts the new one after setPassword', async () => {
    fake.setPassword('changed');

    await expect(client.sync('user1', { destination: DEST, state: '' })).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    expect(fake.calls).toHaveLength(0);

    const updated = new DoveadmClient({ url: fake.url, password: 'changed' });
    try {
      const { state } = await updated.sync('user1', { destination: DEST, state: '' });
      expect(state).not.toBe('');
    } finally {
      updated.close();
    }
  });

  it('closes the connection without an answer', async () => {
    fake.setBehaviour(() => 'close');

    const failure = client.sync('user1', { destination: DEST, state: '' });

    await expect(failure).rejects.toBeInstanceOf(ConnectionError);
    await expect(failure).rejects.toMatchObject({ reason: 'closed-without-response' });
    expect(fake.calls[0]).toMatchObject({ answer: 'close' });
  });

  it('answers HTTP 500', async () => {
    fake.setBehaviour(() => 'http-500');

    await expect(client.sync('user1', { destination: DEST, state: '' })).rejects.toBeInstanceOf(
      HttpServerError,
    );
  });

  it('waits the latency, per user when given a function', async () => {
    fake.setLatency((user) => (user === 'user2' ? 120 : 0));

    await client.sync('user1', { destination: DEST, state: '' });
    await client.sync('user2', { destination: DEST, state: '' });

    const [fast] = fake.callsFor('user1');
    const [slow] = fake.callsFor('user2');
    expect(fast.endedAt - fast.startedAt).toBeLessThan(100);
    expect(slow.endedAt - slow.startedAt).toBeGreaterThanOrEqual(110);
  });

  it('finds two syncs of one user that ran at the same time, and nothing else', async () => {
    fake.setLatency(80);

    // Sequential syncs of user1, and user2 alongside: none of these overlap.
    await Promise.all([
      (async () => {
        const { state } = await client.sync('user1', { destination: DEST, state: '' });
        await client.sync('user1', { destination: DEST, state });
      })(),
      client.sync('user2', { destination: DEST, state: '' }),
    ]);
    expect(fake.overlaps()).toEqual([]);

    // The bug a worker must not have: the same user twice at once.
    await Promise.all([
      client.sync('other', { destination: DEST, state: '' }),
      client.sync('other', { destination: DEST, state: '' }),
    ]);

    const pairs = fake.overlaps();
    expect(pairs).toHaveLength(1);
    const [[a, b]] = pairs;
    expect(a.user).toBe('other');
    expect(b.user).toBe('other');
    expect(b.startedAt).toBeLessThan(a.endedAt);
  });

  it("models dsync's user lock: a second sync of the user waits for it and runs after", async () => {
    let release: (answer: FakeAnswer) => void = () => undefined;
    fake.setBehaviour((call) =>
      call.state === 'first'
        ? new Promise<FakeAnswer>((resolve) => (release = resolve))
        : 'success',
    );
    const first = client.sync('user1', { destination: DEST, state: 'first', lockTimeout: 5 });
    await fake.waitUntil(() => fake.running === 1, 2000);
    const second = client.sync('user1', { destination: DEST, state: 'second', lockTimeout: 5 });
    await fake.waitUntil(() => fake.running === 2, 2000);
    // The second request is on the server, but its dsync has not begun: it waits on the lock.
    expect(Number.isNaN(fake.calls[1].dsyncStartedAt)).toBe(true);
    release('success');
    await Promise.all([first, second]);
    const [a, b] = fake.callsFor('user1');
    expect(b.dsyncStartedAt).toBeGreaterThanOrEqual(a.dsyncEndedAt);
    expect(fake.overlaps()).toEqual([]);
    // The HTTP calls did overlap: a worker's lease exists to prevent even that.
    expect(fake.callOverlaps()).toHaveLength(1);
  });

  it('fails a sync that cannot get the lock in time with exit 75, and holds a lock after its caller gave up', async () => {
    fake.setBehaviour((call) => (call.state === 'stuck' ? 'hang' : 'success'));
    const gaveUp = client.sync('user2', {
      destination: DEST,
      state: 'stuck',
      lockTimeout: 30,
      timeoutMs: 100,
    });
    await expect(gaveUp).rejects.toThrow();
    // The caller gave up, but the dsync still runs on the server and holds the lock.
    expect(fake.callsFor('user2')[0].running).toBe(true);
    const blocked = client.sync('user2', { destination: DEST, state: 'next', lockTimeout: 1 });
    await expect(blocked).rejects.toBeInstanceOf(TemporaryFailureError);
    expect(fake.callsFor('user2')[1]).toMatchObject({ answer: 75 });
    expect(Number.isNaN(fake.callsFor('user2')[1].dsyncStartedAt)).toBe(true);
    expect(fake.overlaps()).toEqual([]);
    // Without lockTimeout dsync takes no lock: that one runs beside the stuck one.
    await client.sync('user2', { destination: DEST, state: 'unlocked' });
    expect(fake.overlaps()).toHaveLength(1);
  });

  it('holds a sync open until the behaviour says how it ended', async () => {
    let release: (answer: FakeAnswer) => void = () => undefined;
    fake.setBehaviour(() => new Promise<FakeAnswer>((resolve) => (release = resolve)));

    const pending = client.sync('user1', { destination: DEST, state: '' });
    await fake.waitUntil(() => fake.running === 1 && fake.calls.length === 1, 2000);
    expect(fake.calls[0].running).toBe(true);
    release('success');

    expect((await pending).state).toBe(fake.calls[0].returnedState);
    expect(fake.calls[0].running).toBe(false);
  });

  it('answers like doveadm to what the client would never send', async () => {
    const post = (body: string): Promise<Response> =>
      fetch(`${fake.url}/doveadm/v1`, {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`doveadm:${PASSWORD}`).toString('base64')}`,
        },
        body,
      });

    expect((await post('not json')).status).toBe(400);
    await expect((await post('[["nosuch",{},"t1"]]')).json()).resolves.toEqual([
      ['error', { type: 'unknownMethod', exitCode: 0 }, 't1'],
    ]);
    await expect(
      (await post('[["sync",{"user":"u","destination":["x"],"bogus":1},"t2"]]')).json(),
    ).resolves.toEqual([['error', { type: 'invalidRequest', exitCode: 0 }, 't2']]);
    await expect(
      (await post('[["sync",{"user":"u","destination":["x"]},"t3"]]')).json(),
    ).resolves.toEqual([['doveadmResponse', [], 't3']]);
    await expect(post('[["sync",{"user":"u","state":""},"t4"]]')).rejects.toThrow();
  });
});
