import {
  answer,
  doveadmError,
  exitCode,
  FakeDoveadmServer,
  raw,
} from './__tests__/fake-doveadm-server';
import { DoveadmClient } from './doveadm-client';
import {
  AuthenticationError,
  BadRequestError,
  ChangedDuringSyncError,
  CommandNotAllowedError,
  CommandUsageError,
  DoveadmError,
  DoveadmInternalError,
  EndpointNotFoundError,
  HttpServerError,
  InvalidArgumentError,
  InvalidRequestError,
  NoPermissionError,
  NotFoundError,
  NotPossibleError,
  OverQuotaError,
  RemoteProtocolError,
  ServerConfigError,
  TemporaryFailureError,
  UnexpectedExitCodeError,
  UnexpectedResponseError,
  UnknownMethodError,
  UnknownUserError,
  type DoveadmErrorKind,
} from './errors';

const STATE = 'AQAAAGjbkg==';
const DESTINATION = 'tcp:127.0.0.1:24245';

let server: FakeDoveadmServer;
let client: DoveadmClient;

beforeEach(async () => {
  server = await FakeDoveadmServer.start(answer([{ state: STATE }]));
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

describe('sync', () => {
  it('posts one tagged sync command with state and destination and returns the new state', async () => {
    const result = await client.sync('user1', { destination: DESTINATION, state: '' });

    expect(result).toEqual({ state: STATE });
    const request = server.requests[0];
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/doveadm/v1');
    expect(request.headers['content-type']).toBe('application/json');
    const [[name, params, tag]] = server.lastCommands();
    expect(name).toBe('sync');
    expect(params).toEqual({ user: 'user1', destination: [DESTINATION], state: '' });
    expect(typeof tag).toBe('string');
  });

  it('sends the optional parameters under their camelCase names', async () => {
    await client.sync('user1', {
      destination: [DESTINATION],
      state: STATE,
      fullSync: true,
      lockTimeout: 5,
      timeout: 30,
      excludeMailbox: ['Trash', 'Junk'],
    });

    expect(server.lastCommands()[0][1]).toEqual({
      user: 'user1',
      destination: [DESTINATION],
      state: STATE,
      fullSync: true,
      lockTimeout: 5,
      timeout: 30,
      excludeMailbox: ['Trash', 'Junk'],
    });
  });

  it('uses a new tag for every request', async () => {
    await client.sync('user1', { destination: DESTINATION, state: '' });
    await client.sync('user1', { destination: DESTINATION, state: '' });

    const tags = server.requests.map((request) => (JSON.parse(request.body) as unknown[][])[0][2]);
    expect(new Set(tags).size).toBe(2);
  });

  it.each([
    ['an empty string', ''],
    ['an empty list', []],
    ['a list holding an empty string', ['']],
  ])('refuses %s as destination before sending anything', async (_label, destination) => {
    const error = await failureOf(client.sync('user1', { destination, state: '' }));

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.kind).toBe('client-bug');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a missing state, an empty user and fractional seconds before sending', async () => {
    const withoutState = { destination: DESTINATION } as unknown as {
      destination: string;
      state: string;
    };
    await expect(client.sync('user1', withoutState)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.sync('', { destination: DESTINATION, state: '' })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(
      client.sync('user1', { destination: DESTINATION, state: '', lockTimeout: 1.5 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toHaveLength(0);
  });

  it('treats an answer without a state as unexpected (what Dovecot does when state is omitted)', async () => {
    server.respondWith(answer([]));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(UnexpectedResponseError);
  });
});

describe('doveadm error entries', () => {
  it.each<[number, new (...args: never[]) => DoveadmError, string, DoveadmErrorKind, boolean]>([
    [2, ChangedDuringSyncError, 'DOVEADM_CHANGED_DURING_SYNC', 'changed-during-sync', true],
    [64, CommandUsageError, 'DOVEADM_USAGE', 'client-bug', false],
    [65, NotPossibleError, 'DOVEADM_NOT_POSSIBLE', 'permanent', false],
    [67, UnknownUserError, 'DOVEADM_UNKNOWN_USER', 'unknown-user', false],
    [68, NotFoundError, 'DOVEADM_NOT_FOUND', 'permanent', false],
    [73, OverQuotaError, 'DOVEADM_OVER_QUOTA', 'permanent', false],
    [75, TemporaryFailureError, 'DOVEADM_TEMPORARY_FAILURE', 'temporary', true],
    [76, RemoteProtocolError, 'DOVEADM_PROTOCOL_ERROR', 'permanent', false],
    [77, NoPermissionError, 'DOVEADM_NO_PERMISSION', 'configuration', false],
    [78, ServerConfigError, 'DOVEADM_CONFIG_ERROR', 'configuration', false],
    [1, UnexpectedExitCodeError, 'DOVEADM_UNEXPECTED_EXIT_CODE', 'permanent', false],
  ])('exit %i becomes %p', async (code, errorClass, errorCode, kind, retryable) => {
    server.respondWith(exitCode(code));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: STATE }));

    expect(error).toBeInstanceOf(errorClass);
    expect(error.name).toBe(errorClass.name);
    expect(error.code).toBe(errorCode);
    expect(error.kind).toBe(kind);
    expect(error.retryable).toBe(retryable);
    expect(error.exitCode).toBe(code);
    expect(error.command).toBe('sync');
    expect(error.message).toContain('user1');
  });

  it.each<[string, new (...args: never[]) => DoveadmError, DoveadmErrorKind]>([
    ['unknownMethod', UnknownMethodError, 'client-bug'],
    ['invalidRequest', InvalidRequestError, 'client-bug'],
    ['unAuthorized', CommandNotAllowedError, 'configuration'],
    ['internalError', DoveadmInternalError, 'temporary'],
  ])('error type %s becomes %p', async (type, errorClass, kind) => {
    server.respondWith(doveadmError(type));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(errorClass);
    expect(error.kind).toBe(kind);
    expect(error.exitCode).toBeUndefined();
  });

  it('reports an unknown error type as an unexpected answer', async () => {
    server.respondWith(doveadmError('somethingNew'));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toContain('somethingNew');
  });
});

describe('HTTP statuses and odd answers', () => {
  it('401 with an empty body is an authentication problem, not the user’s', async () => {
    server.respondWith(raw(401, ''));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.kind).toBe('configuration');
    expect((error as AuthenticationError).status).toBe(401);
  });

  it('403 is an authentication problem too', async () => {
    server.respondWith(raw(403, ''));

    await expect(client.listUsers()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('400 text/plain is our bug and quotes doveadm’s reason', async () => {
    server.respondWith(
      raw(400, "JSON parse error: Expected value 'null', but encounted 'n' + 'o'\n", 'text/plain'),
    );

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.kind).toBe('client-bug');
    expect(error.message).toContain('JSON parse error');
  });

  it('404 points at the URL configuration', async () => {
    server.respondWith(raw(404, 'Path Not Found\n', 'text/plain'));

    const error = await failureOf(client.listUsers());

    expect(error).toBeInstanceOf(EndpointNotFoundError);
    expect(error.kind).toBe('configuration');
  });

  it.each([500, 502, 503])('HTTP %i is temporary', async (status) => {
    server.respondWith(raw(status, '<html>proxy error</html>', 'text/html'));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(HttpServerError);
    expect(error.retryable).toBe(true);
  });

  it('an unparseable 200 body is a clear error quoting the first 200 bytes', async () => {
    const body = `<html>${'x'.repeat(500)}</html>`;
    server.respondWith(raw(200, body, 'text/html'));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).bodyPreview).toBe(body.slice(0, 200));
    expect(error.message).toContain('<html>xxx');
  });

  it('an answer for another tag is a clear error', async () => {
    server.respondWith(() => ({
      body: JSON.stringify([['doveadmResponse', [{ state: STATE }], 'not-ours']]),
    }));

    const error = await failureOf(client.sync('user1', { destination: DESTINATION, state: '' }));

    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error.message).toContain('tag');
  });

  it.each([
    ['a JSON object', '{"a":1}'],
    ['an entry of unknown type', '[["surprise",{},"dw1"]]'],
    ['an empty 200', ''],
  ])('%s is an unexpected answer', async (_label, body) => {
    server.respondWith(raw(200, body));

    await expect(
      client.sync('user1', { destination: DESTINATION, state: '' }),
    ).rejects.toBeInstanceOf(UnexpectedResponseError);
  });

  it('an unusual status is an unexpected answer with its status', async () => {
    server.respondWith(raw(302, ''));

    const error = await failureOf(client.listUsers());

    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).status).toBe(302);
  });
});
