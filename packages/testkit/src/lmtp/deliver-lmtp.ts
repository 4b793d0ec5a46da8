import { LmtpError } from './lmtp-error';
import { LmtpConnection } from './lmtp-connection';
import { hangGuard } from '../timing/calibration';

export interface LmtpEndpoint {
  lmtpPort: number;
  host?: string;
}

export interface DeliverOptions {
  from?: string;
  timeoutMs?: number;
}

/** CRLF line ends, a leading dot doubled (RFC 5321 4.5.2), and the lone-dot terminator. */
export function encodeData(rawMessage: string | Buffer): string {
  const text = typeof rawMessage === 'string' ? rawMessage : rawMessage.toString('utf8');
  const lines = text.replace(/\r?\n/g, '\n').replace(/\n$/, '').split('\n');
  return lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n') + '\r\n.\r\n';
}

/**
 * Delivers one message to one recipient over LMTP, as an MTA would. Rejects with an LmtpError
 * naming the refused stage when any reply is not 2xx or 3xx.
 */
export async function deliverLmtp(
  server: LmtpEndpoint,
  recipient: string,
  rawMessage: string | Buffer,
  options: DeliverOptions = {},
): Promise<void> {
  // A hang guard: 250 bare node process starts on this machine (about 10 s when quiet).
  const timeoutMs = options.timeoutMs ?? hangGuard(250).ms;
  const { codes, texts } = await deliverLmtpTimed(server, [recipient], rawMessage, {
    ...options,
    timeoutMs,
  });
  const code = codes[0] ?? Number.NaN;
  if (code < 200 || code >= 400 || Number.isNaN(code)) {
    const text = texts[0] ?? '';
    throw new LmtpError('LMTP_REJECTED', `LMTP end of DATA rejected: ${text}`, 'end of DATA', text);
  }
}

/** One LMTP transaction's answers, timed from the end of DATA on the client's side. */
export interface TimedLmtpDelivery {
  /** Each recipient's reply code to DATA, in RCPT order. */
  codes: number[];
  /** Each of those replies' text, its lines joined with " / ". */
  texts: string[];
  /** When each of those replies was read, ms after the end of DATA. */
  replyMs: number[];
  /** The last of them: how long the transaction's answer took. */
  ms: number;
}

/**
 * One LMTP transaction to several recipients, as an MTA sends it, timing the DATA replies
 * (Dovecot answers every recipient only after the last one is delivered). Unlike deliverLmtp,
 * a reply other than 2xx to DATA is returned, not thrown; the stages before DATA must succeed.
 */
export async function deliverLmtpTimed(
  server: LmtpEndpoint,
  recipients: readonly string[],
  rawMessage: string | Buffer,
  options: DeliverOptions & { timeoutMs: number },
): Promise<TimedLmtpDelivery> {
  const connection = await LmtpConnection.connect(
    server.lmtpPort,
    server.host ?? '127.0.0.1',
    options.timeoutMs,
  );
  try {
    await connection.expect('greeting');
    connection.send('LHLO dovewarden.test');
    await connection.expect('LHLO');
    connection.send(`MAIL FROM:<${options.from ?? 'sender@example.com'}>`);
    await connection.expect('MAIL FROM');
    for (const recipient of recipients) {
      connection.send(`RCPT TO:<${recipient}>`);
      await connection.expect('RCPT TO');
    }
    connection.send('DATA');
    await connection.expect('DATA');
    const started = performance.now();
    connection.sendRaw(encodeData(rawMessage));
    const codes: number[] = [];
    const texts: string[] = [];
    const replyMs: number[] = [];
    for (let i = 0; i < recipients.length; i += 1) {
      const reply = await connection.reply('end of DATA');
      codes.push(reply.code);
      texts.push(reply.lines.join(' / '));
      replyMs.push(performance.now() - started);
    }
    connection.send('QUIT');
    await connection.expect('QUIT').catch(() => undefined);
    return { codes, texts, replyMs, ms: replyMs.at(-1) ?? Number.NaN };
  } finally {
    connection.close();
  }
}
