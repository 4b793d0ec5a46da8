import * as http from 'node:http';
import * as https from 'node:https';
import { AbortedError } from '../errors/aborted-error';
import { ConnectionError, type ConnectionFailureReason } from '../errors/connection-error';
import type { DoveadmError } from '../errors/doveadm-error';
import { RequestTimeoutError } from '../errors/request-timeout-error';
import { UnexpectedResponseError } from '../errors/unexpected-response-error';
import { describeRequest, type RequestContext } from '../request-context';
import { bodyPreview } from './body-preview';

export interface HttpExchange {
  method: 'GET' | 'POST';
  body?: Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
  context: RequestContext;
}

export interface HttpAnswer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export interface HttpTransportOptions {
  endpoint: URL;
  authorization: string | undefined;
  /** A caller's agent is shared and left open by `close()`; ours is destroyed by it. */
  agent?: http.Agent;
  maxResponseBytes: number;
}

/**
 * One HTTP exchange with the doveadm API: keep-alive, a deadline covering the whole exchange
 * (connect, send, wait for doveadm, read), cancellation, and Node's socket errors turned
 * into typed errors. The Authorization value lives only here, in a private field.
 */
export class HttpTransport {
  readonly #endpoint: URL;
  readonly #authorization: string | undefined;
  readonly #agent: http.Agent;
  readonly #ownsAgent: boolean;
  readonly #maxResponseBytes: number;
  readonly #request: typeof http.request;

  constructor(options: HttpTransportOptions) {
    this.#endpoint = options.endpoint;
    this.#authorization = options.authorization;
    this.#maxResponseBytes = options.maxResponseBytes;
    const secure = options.endpoint.protocol === 'https:';
    this.#request = secure ? https.request : http.request;
    this.#ownsAgent = options.agent === undefined;
    this.#agent =
      options.agent ??
      (secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true }));
  }

  close(): void {
    if (this.#ownsAgent) this.#agent.destroy();
  }

  send(exchange: HttpExchange): Promise<HttpAnswer> {
    const { signal, timeoutMs, context } = exchange;
    if (signal?.aborted === true) {
      return Promise.reject(abortedError(context, signal.reason));
    }

    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      let current: http.ClientRequest | undefined;

      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (error: DoveadmError): void => {
        if (!settle()) return;
        current?.destroy();
        reject(error);
      };

      const deadline = setTimeout(() => {
        fail(
          new RequestTimeoutError(
            `${describeRequest(context)}: no complete answer from ${context.endpoint} within ${timeoutMs} ms`,
            timeoutMs,
            { command: context.command },
          ),
        );
      }, timeoutMs);
      const onAbort = (): void => fail(abortedError(context, signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });

      const attempt = (isRetry: boolean): void => {
        const request = this.#request(this.#endpoint, {
          method: exchange.method,
          agent: this.#agent,
          headers: this.#headers(exchange.body),
        });
        current = request;
        let answered = false;

        request.on('response', (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          let size = 0;
          // With a Content-Length the answer is copied into one buffer as it arrives: a large
          // one (a million-user list) is then held once, not as chunks plus their concatenation.
          const declared = Number(response.headers['content-length']);
          const whole =
            Number.isInteger(declared) && declared > 65_536 && declared <= this.#maxResponseBytes
              ? Buffer.allocUnsafe(declared)
              : undefined;
          response.on('data', (chunk: Buffer) => {
            if (whole !== undefined) {
              // Node ends a response at its Content-Length; more would be a broken server.
              if (size + chunk.length > whole.length) {
                fail(connectionError(context, 'response-truncated'));
                return;
              }
              chunk.copy(whole, size);
              size += chunk.length;
              return;
            }
            size += chunk.length;
            if (size > this.#maxResponseBytes) {
              fail(
                new UnexpectedResponseError(
                  `${describeRequest(context)}: the answer exceeds ${this.#maxResponseBytes} bytes`,
                  {
                    command: context.command,
                    status: response.statusCode,
                    bodyPreview: bodyPreview(chunks[0] ?? chunk),
                  },
                ),
              );
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => {
            if (!settle()) return;
            // A single concatenation, then the chunks are dropped: for a 100,000-user list
            // this keeps one copy of the raw answer alive, not two.
            const body =
              whole !== undefined
                ? whole.subarray(0, size)
                : chunks.length === 1
                  ? chunks[0]
                  : Buffer.concat(chunks, size);
            chunks.length = 0;
            resolve({
              status: response.statusCode ?? 0,
              contentType: response.headers['content-type'],
              body,
            });
          });
          response.on('error', (cause) => {
            fail(connectionError(context, 'response-truncated', cause));
          });
          response.on('close', () => {
            if (!response.complete) fail(connectionError(context, 'response-truncated'));
          });
        });

        request.on('error', (cause: NodeJS.ErrnoException) => {
          if (settled) return;
          // A kept-alive socket can be closed by the server just as we reuse it. Node's own
          // advice is to retry once; a repeated sync is harmless (dsync is idempotent).
          if (!answered && !isRetry && request.reusedSocket && cause.code === 'ECONNRESET') {
            attempt(true);
            return;
          }
          fail(connectionError(context, failureReason(cause, answered), cause));
        });

        request.end(exchange.body);
      };

      attempt(false);
    });
  }

  #headers(body: Buffer | undefined): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = body.length;
    }
    if (this.#authorization !== undefined) headers.Authorization = this.#authorization;
    return headers;
  }
}

function failureReason(cause: NodeJS.ErrnoException, answered: boolean): ConnectionFailureReason {
  if (answered) return 'response-truncated';
  switch (cause.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return 'unreachable';
    case 'EPIPE':
      return 'reset';
    case 'ECONNRESET':
      // Node says "socket hang up" when the peer closed cleanly before answering; that is how
      // a dying doveadm process looks from here.
      return cause.message === 'socket hang up' ? 'closed-without-response' : 'reset';
    case undefined:
    default:
      return 'closed-without-response';
  }
}

const REASON_TEXT: Record<ConnectionFailureReason, string> = {
  refused: 'connection refused by',
  'closed-without-response': 'connection closed with no HTTP answer by',
  reset: 'connection reset by',
  'response-truncated': 'answer cut short by',
  unreachable: 'cannot reach',
};

function connectionError(
  context: RequestContext,
  reason: ConnectionFailureReason,
  cause?: unknown,
): ConnectionError {
  return new ConnectionError(
    `${describeRequest(context)}: ${REASON_TEXT[reason]} ${context.endpoint}`,
    reason,
    { command: context.command, cause },
  );
}

function abortedError(context: RequestContext, reason: unknown): AbortedError {
  return new AbortedError(`${describeRequest(context)}: cancelled by the caller`, {
    command: context.command,
    cause: reason,
  });
}
