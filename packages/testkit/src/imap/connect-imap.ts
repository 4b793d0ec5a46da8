import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { hangGuard } from '../timing/calibration';

/** What an IMAP helper needs from a server: DovecotServer fits, so does a plain object. */
export interface ImapEndpoint {
  imapPort: number;
  host?: string;
  passwordOf?(user: string): string;
}

/** An authenticated imapflow client with logging off; password defaults to the server's or `secret`. */
export async function connectImap(
  server: ImapEndpoint,
  user: string,
  password?: string,
): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: server.host ?? '127.0.0.1',
    port: server.imapPort,
    secure: false,
    auth: { user, pass: password ?? server.passwordOf?.(user) ?? 'secret' },
    logger: false,
    // Test servers run with ssl = no; an IDLE between commands would only add round trips.
    disableAutoIdle: true,
    // Hang guards, not bounds: imapflow's 16 s greeting and 90 s connection limits, or more on
    // a machine whose bare node start is slower (chaos scenario 8 saw a loaded machine's
    // imap-login take longer than 16 s to greet).
    greetingTimeout: Math.max(16_000, hangGuard(550).ms),
    connectionTimeout: Math.max(90_000, hangGuard(3000).ms),
  });
  await client.connect();
  return client;
}

export interface TestMessage {
  subject: string;
  body?: string;
  from?: string;
  to?: string;
  /** Chosen by the helper when absent. */
  messageId?: string;
}

export function newMessageId(): string {
  return `<${randomBytes(8).toString('hex')}@dovewarden.test>`;
}

/** A small RFC 5322 message with CRLF line ends. */
export function buildMessage(message: TestMessage): { raw: string; messageId: string } {
  const messageId = message.messageId ?? newMessageId();
  const raw =
    [
      `From: ${message.from ?? 'sender@example.com'}`,
      `To: ${message.to ?? 'user1@example.com'}`,
      `Subject: ${message.subject}`,
      `Message-ID: ${messageId}`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      ...(message.body ?? 'Test message.').split(/\r?\n/),
    ].join('\r\n') + '\r\n';
  return { raw, messageId };
}
