import net from 'node:net';
import { LmtpError } from './lmtp-error';

export interface LmtpReply {
  code: number;
  /** Every line of a (possibly multi-line) reply. */
  lines: string[];
}

/** A line-oriented LMTP session over a raw socket; replies are queued until someone reads them. */
export class LmtpConnection {
  private buffer = '';
  private readonly replies: LmtpReply[] = [];
  private pendingLines: string[] = [];
  private waiter: ((reply: LmtpReply | Error) => void) | null = null;
  private failure: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) =>
      this.fail(
        new LmtpError(
          'LMTP_CONNECTION_FAILED',
          `LMTP connection failed: ${err.message}`,
          'connection',
        ),
      ),
    );
    socket.on('close', () =>
      this.fail(
        new LmtpError('LMTP_CONNECTION_FAILED', 'LMTP server closed the connection', 'connection'),
      ),
    );
  }

  static connect(port: number, host: string, timeoutMs: number): Promise<LmtpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const onError = (err: Error): void =>
        reject(
          new LmtpError(
            'LMTP_CONNECTION_FAILED',
            `cannot connect to LMTP ${host}:${port}: ${err.message}`,
            'connect',
          ),
        );
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new LmtpConnection(socket, timeoutMs));
      });
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.pendingLines.push(line);
      // "250-..." continues a reply, "250 ..." ends it.
      if (line.charAt(3) !== '-') {
        this.push({ code: Number(line.slice(0, 3)), lines: this.pendingLines });
        this.pendingLines = [];
      }
    }
  }

  private push(reply: LmtpReply): void {
    const waiter = this.waiter;
    if (waiter !== null) {
      this.waiter = null;
      waiter(reply);
    } else {
      this.replies.push(reply);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(err);
  }

  /** The next reply, whatever its code. */
  reply(stage: string): Promise<LmtpReply> {
    return this.next(stage);
  }

  /** The next reply; it must be 2xx or 3xx, or the delivery fails at `stage`. */
  async expect(stage: string): Promise<LmtpReply> {
    const reply = await this.next(stage);
    if (reply.code < 200 || reply.code >= 400 || Number.isNaN(reply.code)) {
      const text = reply.lines.join(' / ');
      throw new LmtpError('LMTP_REJECTED', `LMTP ${stage} rejected: ${text}`, stage, text);
    }
    return reply;
  }

  private next(stage: string): Promise<LmtpReply> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(
          new LmtpError(
            'LMTP_TIMEOUT',
            `no LMTP reply to ${stage} within ${this.timeoutMs} ms`,
            stage,
          ),
        );
      }, this.timeoutMs);
      this.waiter = (reply) => {
        clearTimeout(timer);
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      };
    });
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  sendRaw(data: string): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}
