import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { answer, FakeDoveadmServer } from './__tests__/fake-doveadm-server';
import { DoveadmClient } from './doveadm-client';
import {
  AbortedError,
  ConnectionError,
  DoveadmError,
  RequestTimeoutError,
  UnexpectedResponseError,
} from './errors';

const DESTINATION = 'tcp:127.0.0.1:24245';
const syncOptions = { destination: DESTINATION, state: '' };

let server: FakeDoveadmServer;
let client: DoveadmClient;

beforeEach(async () => {
  server = await FakeDoveadmServer.start(answer([{ state: 'S' }]));
  client = new DoveadmClient({ url: server.url, password: 'pw' });
});

afterEach(async () => {
  client.close();
  await server.close();
});

async function failureOf(call: Promise<unknown>): Promise<DoveadmError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof DoveadmError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('connection failures', () => {
  it('a connection closed with no HTTP answer is temporary (Dovecot 2.3 with the destination down)', async () => {
    server.respondWith(() => ({ closeWithoutAnswer: true }));

    const error = await failureOf(client.sync('user1', syncOptions));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe('closed-without-response');
    expect(error.kind).toBe('temporary');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('user1');
  });

  it('an answer cut short is temporary', async () => {
    server.respondWith(() => ({ truncateAfter: '[["doveadmResp', declaredLength: 200 }));

    const error = await failureOf(client.sync('user1', syncOptions));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe('response-truncated');
  });

  it('a refused connection is temporary', async () => {
    const url = server.url;
    await server.close();
    server = await FakeDoveadmServer.start();
    const orphan = new DoveadmClient({ url, password: 'pw' });

    const error = await failureOf(orphan.listUsers());
    orphan.close();

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe('refused');
  });
});

describe('time limits and cancellation', () => {
  it('gives up after the per-call timeout', async () => {
    server.respondWith(() => ({ neverAnswer: true }));

    const started = Date.now();
    const error = await failureOf(client.sync('user1', { ...syncOptions, timeoutMs: 100 }));

    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as RequestTimeoutError).timeoutMs).toBe(100);
    expect(error.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('applies the client-wide default timeout', async () => {
    server.respondWith(() => ({ neverAnswer: true }));
    const impatient = new DoveadmClient({ url: server.url, password: 'pw', timeoutMs: 50 });

    await expect(impatient.listUsers()).rejects.toBeInstanceOf(RequestTimeoutError);
    impatient.close();
  });

  it('cancels an in-flight sync when the signal fires', async () => {
    server.respondWith(() => ({ neverAnswer: true }));
    const controller = new AbortController();

    const pending = failureOf(client.sync('user1', { ...syncOptions, signal: controller.signal }));
    await waitFor(() => server.requests.length === 1);
    controller.abort(new Error('worker shutting down'));
    const error = await pending;

    expect(error).toBeInstanceOf(AbortedError);
    expect(error.kind).toBe('aborted');
    expect(error.retryable).toBe(false);
    expect((error.cause as Error).message).toBe('worker shutting down');
  });

  it('does not send anything when the signal has already fired', async () => {
    const controller = new AbortController();
    controller.abort();

    await expect(
      client.sync('user1', { ...syncOptions, signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses answers larger than maxResponseBytes instead of buffering them', async () => {
    server.respondWith(answer({ userList: Array.from({ length: 1000 }, (_, i) => `user${i}`) }));
    const small = new DoveadmClient({ url: server.url, password: 'pw', maxResponseBytes: 1024 });

    await expect(small.listUsers()).rejects.toBeInstanceOf(UnexpectedResponseError);
    small.close();
  });
});

describe('connections', () => {
  it('reuses one kept-alive connection for consecutive calls', async () => {
    await client.sync('user1', syncOptions);
    await client.sync('user2', syncOptions);
    await client.sync('user3', syncOptions);

    expect(server.connectionCount).toBe(1);
  });

  it('retries once when a reused connection turns out to be closed', async () => {
    const seen = new Set<number>();
    server.respondWith((request) => {
      const reused = seen.has(request.connection);
      seen.add(request.connection);
      return reused ? { closeWithoutAnswer: true } : answer([{ state: 'S' }])(request);
    });

    await client.sync('user1', syncOptions);
    await expect(client.sync('user2', syncOptions)).resolves.toEqual({ state: 'S' });
    expect(server.requests).toHaveLength(3);
    expect(server.connectionCount).toBe(2);
  });

  it('uses a caller-provided agent and leaves it open on close()', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const shared = new DoveadmClient({ url: server.url, password: 'pw', agent });

    await shared.sync('user1', syncOptions);
    shared.close();
    await shared.sync('user1', syncOptions);

    expect(server.connectionCount).toBe(1);
    agent.destroy();
  });
});

describe('URL and authentication', () => {
  beforeEach(() => server.respondWith(answer({ userList: [] })));

  it('keeps a path prefix and appends /doveadm/v1', async () => {
    const prefixed = new DoveadmClient({ url: `${server.url}/mail-a/`, password: 'pw' });

    await prefixed.listUsers();
    prefixed.close();

    expect(server.requests[0].url).toBe('/mail-a/doveadm/v1');
  });

  it('does not append /doveadm/v1 twice', async () => {
    const explicit = new DoveadmClient({ url: `${server.url}/doveadm/v1`, password: 'pw' });

    await explicit.listUsers();
    explicit.close();

    expect(server.requests[0].url).toBe('/doveadm/v1');
  });

  it('sends the password as Basic auth for the user doveadm', async () => {
    await client.listUsers();

    const header = server.requests[0].headers.authorization!;
    expect(header).toBe(`Basic ${Buffer.from('doveadm:pw').toString('base64')}`);
  });

  it('sends the API key as X-Dovecot-API with the key in base64', async () => {
    const keyed = new DoveadmClient({ url: server.url, apiKey: 'the-key' });

    await keyed.listUsers();
    keyed.close();

    expect(server.requests[0].headers.authorization).toBe(
      `X-Dovecot-API ${Buffer.from('the-key').toString('base64')}`,
    );
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(5);
  }
}
