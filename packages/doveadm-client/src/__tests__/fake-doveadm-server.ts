import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for doveadm's HTTP listener on 127.0.0.1, replaying the answers captured from
 * real Dovecot 2.4.1 and 2.3.19 (see /work/shared/dovecot/README.md), including the ones that
 * are not HTTP at all: a connection closed with no answer, or no answer ever.
 */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Which TCP connection carried it, numbered from 1 in order of arrival. */
  connection: number;
}

export type Reply =
  | { status?: number; body: string; contentType?: string }
  | { closeWithoutAnswer: true }
  | { neverAnswer: true }
  | { truncateAfter: string; declaredLength: number };

export type Responder = (request: ReceivedRequest) => Reply;

export class FakeDoveadmServer {
  readonly requests: ReceivedRequest[] = [];
  #responder: Responder;
  readonly #server: http.Server;
  readonly #connections = new WeakMap<Socket, number>();
  #connectionCount = 0;

  private constructor(responder: Responder) {
    this.#responder = responder;
    this.#server = http.createServer((request, response) => this.#handle(request, response));
    this.#server.on('connection', (socket: Socket) => {
      this.#connections.set(socket, ++this.#connectionCount);
    });
  }

  static async start(responder: Responder = answer([])): Promise<FakeDoveadmServer> {
    const fake = new FakeDoveadmServer(responder);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  get connectionCount(): number {
    return this.#connectionCount;
  }

  respondWith(responder: Responder): void {
    this.#responder = responder;
  }

  /** The commands of the last request, as `[name, params, tag]`. */
  lastCommands(): [string, Record<string, unknown>, string][] {
    const last = this.requests.at(-1);
    if (last === undefined) throw new Error('no request received');
    return JSON.parse(last.body) as [string, Record<string, unknown>, string][];
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received: ReceivedRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        connection: this.#connections.get(request.socket) ?? 0,
      };
      this.requests.push(received);
      const reply = this.#responder(received);
      if ('closeWithoutAnswer' in reply) {
        request.socket.destroy();
      } else if ('neverAnswer' in reply) {
        return;
      } else if ('truncateAfter' in reply) {
        response.writeHead(200, {
          'Content-Type': 'application/json',
          'Content-Length': reply.declaredLength,
        });
        response.write(reply.truncateAfter, () => request.socket.destroy());
      } else {
        const body = Buffer.from(reply.body, 'utf8');
        const headers: http.OutgoingHttpHeaders = { 'Content-Length': body.length };
        if (body.length > 0) headers['Content-Type'] = reply.contentType ?? 'application/json';
        response.writeHead(reply.status ?? 200, headers);
        response.end(body);
      }
    });
  }
}

function tagOf(request: ReceivedRequest): string {
  const commands = JSON.parse(request.body) as unknown[][];
  return String(commands[0]?.[2]);
}

/** 200 `[["doveadmResponse", payload, <the request's tag>]]`. */
export function answer(payload: unknown): Responder {
  return (request) => ({
    body: JSON.stringify([['doveadmResponse', payload, tagOf(request)]]),
  });
}

/** 200 `[["error", {"type": type, "exitCode": exitCode}, <the request's tag>]]`. */
export function doveadmError(type: string, exitCode = 0): Responder {
  return (request) => ({
    body: JSON.stringify([['error', { type, exitCode }, tagOf(request)]]),
  });
}

export function exitCode(code: number): Responder {
  return doveadmError('exitCode', code);
}

export function raw(status: number, body: string, contentType?: string): Responder {
  return () => ({ status, body, contentType });
}
