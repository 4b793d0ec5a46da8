import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { isLoopbackHost, refuseAndClose } from './refuse';

const BODY_BYTES = 64 * 1024 * 1024;

/**
 * Posts a 64 MiB body to a server that refuses every request, over a raw socket: what comes back
 * and how much of the body the server read before the connection ended.
 */
async function postHugeBody(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ answer: string; serverRead: number; closed: boolean }> {
  let serverSocket: Socket | undefined;
  const server = createServer(handler);
  server.on('connection', (socket) => (serverSocket = socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const client = connect(port, '127.0.0.1');
      let answer = '';
      client.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      client.on('error', () => undefined); // the cut after the linger: EPIPE or ECONNRESET
      client.on('close', () =>
        resolve({ answer, serverRead: serverSocket?.bytesRead ?? -1, closed: true }),
      );
      client.on('connect', () => {
        client.write(
          `POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`,
        );
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        let sent = 0;
        const pump = (): void => {
          while (sent < BODY_BYTES && !client.destroyed) {
            sent += chunk.length;
            if (!client.write(chunk)) {
              client.once('drain', pump);
              return;
            }
          }
          // All sent: this side is done (a server that keeps the connection alive waits for it).
          if (!client.destroyed) client.end();
        };
        pump();
      });
      setTimeout(() => reject(new Error('the connection never closed')), 60_000).unref();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('refuseAndClose', () => {
  it('answers at once, reads next to nothing of a 64 MiB body, and closes', async () => {
    const result = await postHugeBody((req, res) =>
      refuseAndClose(req, res, 401, { error: 'authentication required' }, { 'X-Why': 'test' }),
    );
    expect(result.answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(result.answer).toContain('Connection: close');
    expect(result.answer).toContain('X-Why: test');
    expect(result.answer).toContain('{"error":"authentication required"}');
    expect(result.closed).toBe(true);
    // What the kernel buffered before the answer, not the body: far below 64 MiB.
    expect(result.serverRead).toBeGreaterThan(0);
    expect(result.serverRead).toBeLessThan(BODY_BYTES / 4);
  });

  it('is what makes the difference: an answer on a kept-alive connection reads all of it', async () => {
    // What ingest and admin did: answer, then drain the body so the connection can be reused.
    const result = await postHugeBody((req, res) => {
      res.writeHead(401, { 'Content-Length': 0 });
      res.end();
      req.resume();
    });
    expect(result.serverRead).toBeGreaterThanOrEqual(BODY_BYTES);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['localhost:3000', true],
    ['LOCALHOST:3000', true],
    ['127.0.0.1', true],
    ['127.0.0.1:3000', true],
    ['127.1.2.3:80', true],
    ['[::1]', true],
    ['[::1]:3000', true],
    ['evil.example', false],
    ['evil.example:3000', false],
    ['localhost.evil.example', false],
    ['127.0.0.1.nip.io', false],
    ['127.0.0.256', false],
    ['[::ffff:127.0.0.1]:3000', false],
    ['10.0.0.1:3000', false],
    ['', false],
    [undefined, false],
  ])('%j: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
