import { inspect } from 'node:util';
import { answer, FakeDoveadmServer, raw, type Responder } from './__tests__/fake-doveadm-server';
import { DoveadmClient } from './doveadm-client';
import { InvalidArgumentError } from './errors';

const PASSWORD = 'Pa55-w0rd-SECRET';
const API_KEY = 'api-KEY-SECRET';
const SECRETS = [
  PASSWORD,
  API_KEY,
  Buffer.from(`doveadm:${PASSWORD}`).toString('base64'),
  Buffer.from(API_KEY).toString('base64'),
];

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

let server: FakeDoveadmServer;

beforeEach(async () => {
  server = await FakeDoveadmServer.start(answer({ userList: [] }));
});

afterEach(async () => {
  await server.close();
});

describe.each([
  ['password', { password: PASSWORD }],
  ['API key', { apiKey: API_KEY }],
])('with a %s', (_label, credentials) => {
  it('keeps it out of toString, JSON and util.inspect of the client', () => {
    const client = new DoveadmClient({ url: server.url, ...credentials });

    expectNoSecret(String(client));
    expectNoSecret(JSON.stringify(client));
    expectNoSecret(inspect(client, { showHidden: true, depth: Infinity }));
    client.close();
  });

  it.each<[string, Responder]>([
    ['401', raw(401, '')],
    ['400', raw(400, 'JSON parse error', 'text/plain')],
    ['500', raw(500, 'oops')],
    ['closed connection', () => ({ closeWithoutAnswer: true })],
    ['unparseable answer', raw(200, 'not json')],
    ['timeout', () => ({ neverAnswer: true })],
  ])('keeps it out of the error thrown for a %s', async (_case, responder) => {
    server.respondWith(responder);
    const client = new DoveadmClient({ url: server.url, timeoutMs: 100, ...credentials });

    const error: unknown = await client.listUsers().catch((caught: unknown) => caught);
    client.close();

    expect(error).toBeInstanceOf(Error);
    const thrown = error as Error;
    expectNoSecret(thrown.message);
    expectNoSecret(String(thrown.stack));
    expectNoSecret(JSON.stringify(thrown));
    expectNoSecret(inspect(thrown, { showHidden: true, depth: Infinity }));
  });
});

it('refuses credentials inside the URL without repeating them', () => {
  const url = server.url.replace('http://', `http://doveadm:${PASSWORD}@`);

  let error: unknown;
  try {
    new DoveadmClient({ url });
  } catch (caught) {
    error = caught;
  }

  expect(error).toBeInstanceOf(InvalidArgumentError);
  expectNoSecret(inspect(error, { showHidden: true, depth: Infinity }));
});

it('refuses a password and an API key together', () => {
  expect(() => new DoveadmClient({ url: server.url, password: 'a', apiKey: 'b' })).toThrow(
    InvalidArgumentError,
  );
});
