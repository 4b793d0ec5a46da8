import { type Socket, connect } from 'node:net';
import { AbortedError } from '../errors/aborted-error';
import { AuthenticationError } from '../errors/authentication-error';
import { ConnectionError } from '../errors/connection-error';
import { InvalidArgumentError } from '../errors/invalid-argument-error';
import { RequestTimeoutError } from '../errors/request-timeout-error';
import { UnexpectedResponseError } from '../errors/unexpected-response-error';
import { errorForDoveadmFailure } from '../protocol/error-for-doveadm-failure';
import { requireStatusFields } from '../protocol/mailbox-status-fields';
import { syncCommand } from '../protocol/sync-command';
import type { RequestContext } from '../request-context';
import { DoveadmError } from '../errors/doveadm-error';
import {
  type CallOptions,
  type DoveadmRead,
  type DoveadmReadResults,
  type FetchedMessage,
  MAILBOX_STATUS_FIELDS,
  type MailboxStatus,
  type MailboxStatusField,
  type SyncOptions,
  type SyncResult,
} from '../types';

export interface DoveadmTcpClientOptions {
  /** A dsync destination, `tcp:HOST:PORT`: the replica's doveadm service. */
  destination: string;
  /** doveadm_password, the same on both servers (dsync needs it so). */
  password: string;
  /** Default time limit of one call, in ms. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Exit-code names of the doveadm protocol (Dovecot's doveadm_exit_code_to_str()). */
const EXIT_CODES: Readonly<Record<string, number>> = {
  CHANGED: 2,
  USAGE: 64,
  DATAERR: 65,
  NOUSER: 67,
  NOTFOUND: 68,
  CANTCREAT: 73,
  TEMPFAIL: 75,
  PROTOCOL: 76,
  NOPERM: 77,
  CONFIG: 78,
};

/** Dovecot's str_tabescape(): \001 escapes \001, \t, \r, \n and NUL. */
export function tabEscape(value: string): string {
  return value.replace(/[\u0001\t\r\n\0]/g, (c) => {
    switch (c) {
      case '\u0001':
        return '\u00011';
      case '\t':
        return '\u0001t';
      case '\r':
        return '\u0001r';
      case '\n':
        return '\u0001n';
      default:
        return '\u00010';
    }
  });
}

export function tabUnescape(value: string): string {
  return value.replace(/\u0001(.)/g, (_, c: string) => {
    switch (c) {
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case '0':
        return '\0';
      default:
        return c === '1' ? '\u0001' : c;
    }
  });
}

/** What one command answered: its printed values, in order, and its status line. */
interface TcpAnswer {
  values: string[];
}

/** Whole seconds for a dsync option, or undefined when not given. */
function seconds(value: number | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`doveadm sync: ${name} must be whole seconds above 0`);
  }
  return String(value);
}

/**
 * The doveadm protocol over TCP, version 1.0 (no multiplexing, no extra fields), as doveadm
 * itself speaks it to a remote doveadm service: for the few commands the worker runs on the
 * replica without an HTTP API there (its dsync destination is that service). One connection
 * per call. A call never carries the password in an error message.
 */
export class DoveadmTcpClient {
  readonly #host: string;
  readonly #port: number;
  readonly #password: string;
  readonly #timeoutMs: number;
  readonly #endpoint: string;

  constructor(options: DoveadmTcpClientOptions) {
    const match = /^tcp:(.+):(\d+)$/.exec(options.destination);
    if (match === null) {
      throw new InvalidArgumentError(
        `doveadm TCP client: destination must be tcp:HOST:PORT, not ${JSON.stringify(options.destination)}`,
      );
    }
    if (options.password === '') {
      throw new InvalidArgumentError('doveadm TCP client: the password must not be empty');
    }
    this.#host = match[1]?.replace(/^\[(.*)\]$/, '$1') ?? '';
    this.#port = Number(match[2]);
    this.#password = options.password;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#endpoint = options.destination;
  }

  /** `doveadm mailbox status`: the requested fields of the user's mailboxes matching `mask`. */
  async mailboxStatus<F extends MailboxStatusField>(
    user: string,
    fields: readonly F[],
    mask: string | readonly string[] = '*',
    options: CallOptions = {},
  ): Promise<MailboxStatus<F>[]> {
    requireStatusFields(fields);
    const masks = typeof mask === 'string' ? [mask] : [...mask];
    const context = this.#context('mailbox status', user);
    const { values } = await this.#run(
      context,
      ['mailbox status', fields.join(' '), ...masks],
      options,
    );
    // One row per mailbox: its name, then the fields in doveadm's own order, whatever the
    // order asked (doveadm-mail-mailbox-status.c prints them by kind, MAILBOX_STATUS_FIELDS).
    const columns = MAILBOX_STATUS_FIELDS.filter((field) => fields.includes(field as F));
    const width = columns.length + 1;
    if (values.length % width !== 0) {
      throw new UnexpectedResponseError(
        `doveadm mailbox status for user ${JSON.stringify(user)}: ${values.length} values do not make rows of ${width}`,
        { command: context.command, bodyPreview: values.slice(0, 4).join('\t').slice(0, 200) },
      );
    }
    const rows: MailboxStatus<F>[] = [];
    for (let start = 0; start < values.length; start += width) {
      const row: Record<string, string> = { mailbox: values[start] ?? '' };
      columns.forEach((field, index) => {
        row[field] = values[start + 1 + index] ?? '';
      });
      rows.push(row as MailboxStatus<F>);
    }
    return rows;
  }

  /** `doveadm mailbox rename`: the mailbox and its children, not subscriptions (see DoveadmClient). */
  async mailboxRename(
    user: string,
    from: string,
    to: string,
    options: CallOptions = {},
  ): Promise<void> {
    if (from === '' || to === '') {
      throw new InvalidArgumentError('doveadm mailbox rename: names must not be empty');
    }
    await this.#run(this.#context('mailbox rename', user), ['mailbox rename', from, to], options);
  }

  /**
   * `doveadm mailbox list`: the folder names (a `\Noselect` parent included), or with
   * `subscriptions` the subscribed names (`-s`), whether or not such a folder exists.
   */
  async mailboxList(
    user: string,
    options: CallOptions & { subscriptions?: boolean } = {},
  ): Promise<string[]> {
    const { values } = await this.#run(
      this.#context('mailbox list', user),
      ['mailbox list', ...(options.subscriptions === true ? ['-s'] : [])],
      options,
    );
    return values;
  }

  /**
   * `doveadm fetch`: the fields of every message the query matches, one record per message.
   * Over this protocol the values come one after the other, so a row is `fields.length` values
   * in the order asked (doveadm prints fetch fields in the order given).
   */
  async fetch<F extends string>(
    user: string,
    fields: readonly F[],
    query: readonly string[],
    options: CallOptions = {},
  ): Promise<FetchedMessage<F>[]> {
    if (fields.length === 0 || fields.some((field) => !/^[a-z.]+$/.test(field))) {
      throw new InvalidArgumentError('doveadm fetch: fields must be plain field names');
    }
    if (query.length === 0) throw new InvalidArgumentError('doveadm fetch: the query is empty');
    const context = this.#context('fetch', user);
    const { values } = await this.#run(context, ['fetch', fields.join(' '), ...query], options);
    if (values.length % fields.length !== 0) {
      throw new UnexpectedResponseError(
        `doveadm fetch for user ${JSON.stringify(user)}: ${values.length} values do not make rows of ${fields.length}`,
        { command: context.command, bodyPreview: values.slice(0, 4).join('\t').slice(0, 200) },
      );
    }
    const rows: FetchedMessage<F>[] = [];
    for (let start = 0; start < values.length; start += fields.length) {
      const row: Record<string, string> = {};
      fields.forEach((field, index) => {
        row[field] = values[start + index] ?? '';
      });
      rows.push(row as FetchedMessage<F>);
    }
    return rows;
  }

  /**
   * DoveadmClient.readMany over this protocol: the same reads and the same settled answers, so
   * that one snapshot reader serves both. This protocol has no batches: the reads run one
   * after the other, one connection each.
   */
  async readMany<const Q extends Record<string, DoveadmRead>>(
    user: string,
    queries: Q,
    options: CallOptions = {},
  ): Promise<DoveadmReadResults<Q>> {
    const names = Object.keys(queries);
    if (names.length === 0) {
      throw new InvalidArgumentError('doveadm client: readMany needs at least one read');
    }
    const settled: Record<string, PromiseSettledResult<unknown>> = {};
    for (const name of names) {
      const read = queries[name];
      try {
        let value: unknown;
        if ('mailboxList' in read) {
          value = await this.mailboxList(user, {
            ...options,
            ...(read.mailboxList.subscriptions === true ? { subscriptions: true } : {}),
          });
        } else if ('mailboxStatus' in read) {
          value = await this.mailboxStatus(
            user,
            read.mailboxStatus.fields,
            read.mailboxStatus.mask ?? '*',
            options,
          );
        } else {
          value = await this.fetch(user, read.fetch.fields, read.fetch.query, options);
        }
        settled[name] = { status: 'fulfilled', value };
      } catch (error: unknown) {
        // Not the call's own failure (a timeout, an abort, a refused login): the whole read
        // fails, as a failed HTTP request does.
        if (!(error instanceof DoveadmError) || error.exitCode === undefined) throw error;
        settled[name] = { status: 'rejected', reason: error };
      }
    }
    return settled as DoveadmReadResults<Q>;
  }

  /** `doveadm mailbox unsubscribe`: drops subscriptions by name; no folder is touched. */
  async mailboxUnsubscribe(
    user: string,
    names: readonly string[],
    options: CallOptions = {},
  ): Promise<void> {
    if (names.length === 0) return;
    if (names.some((name) => name === '')) {
      throw new InvalidArgumentError('doveadm mailbox unsubscribe: names must not be empty');
    }
    await this.#run(
      this.#context('mailbox unsubscribe', user),
      ['mailbox unsubscribe', ...names],
      options,
    );
  }

  /** `doveadm mailbox delete`: one mailbox (not its children), not its subscription. */
  async mailboxDelete(user: string, mailbox: string, options: CallOptions = {}): Promise<void> {
    if (mailbox === '') {
      throw new InvalidArgumentError('doveadm mailbox delete: the name must not be empty');
    }
    await this.#run(this.#context('mailbox delete', user), ['mailbox delete', mailbox], options);
  }

  /**
   * `doveadm sync` run by this doveadm service (the source) towards `destination`, the way the
   * old replicator ran it: the same parameters as DoveadmClient.sync. Unlike the HTTP API, this
   * protocol keeps what dsync printed when the command fails: a run that ends in exit 2
   * ("mailboxes changed during the sync") throws ChangedDuringSyncError with the new state in
   * `dsyncState`, which dsync computes to be reused. Any other failure carries what it printed
   * too (a lock timeout prints the state it was given, unchanged).
   */
  async sync(user: string, options: SyncOptions): Promise<SyncResult> {
    const destinations =
      typeof options.destination === 'string' ? [options.destination] : [...options.destination];
    const [destination] = destinations;
    if (destinations.length !== 1 || destination === undefined || destination === '') {
      throw new InvalidArgumentError('doveadm sync over TCP: exactly one destination');
    }
    if (typeof options.state !== 'string') {
      throw new InvalidArgumentError(
        'doveadm sync: state must be a string ("" when none is known)',
      );
    }
    const command = syncCommand(options);
    const args: string[] = [command];
    if (options.onewaySync === true) args.push('-1');
    if (options.allNamespaces === true) args.push('-N');
    if (options.fullSync === true) args.push('-f');
    const lockTimeout = seconds(options.lockTimeout, 'lockTimeout');
    if (lockTimeout !== undefined) args.push('-l', lockTimeout);
    const timeout = seconds(options.timeout, 'timeout');
    if (timeout !== undefined) args.push('-T', timeout);
    for (const mailbox of options.excludeMailbox ?? []) args.push('-x', mailbox);
    // Always -s: without it dsync prints no state.
    args.push('-s', options.state, destination);
    const { values } = await this.#run(this.#context(command, user), args, options, true);
    const [state] = values;
    if (state === undefined || values.length !== 1) {
      throw new UnexpectedResponseError(
        `doveadm ${command} for user ${JSON.stringify(user)} on ${this.#endpoint}: the answer carries no state`,
        { command, bodyPreview: `${values.length} values` },
      );
    }
    return { state };
  }

  /** Nothing to release: every call has its own connection. */
  close(): void {}

  #context(command: string, user: string): RequestContext {
    if (user === '') throw new InvalidArgumentError('doveadm TCP client: user must not be empty');
    return { command, user, endpoint: this.#endpoint };
  }

  /** `printsState`: a sync, whose printed state a failure carries along (see sync). */
  #run(
    context: RequestContext,
    args: readonly string[],
    options: CallOptions,
    printsState = false,
  ): Promise<TcpAnswer> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const about = `doveadm ${context.command} for user ${JSON.stringify(context.user)} on ${this.#endpoint}`;
    return new Promise<TcpAnswer>((resolve, reject) => {
      const socket: Socket = connect(this.#port, this.#host);
      let buffer = '';
      let phase: 'greeting' | 'auth' | 'answer' = 'greeting';
      let settled = false;
      const finish = (error: Error | undefined, answer?: TcpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        if (error === undefined && answer !== undefined) resolve(answer);
        else reject(error ?? new Error('no answer'));
      };
      const timer = setTimeout(
        () =>
          finish(new RequestTimeoutError(`${about}: no answer within ${timeoutMs} ms`, timeoutMs)),
        timeoutMs,
      );
      const onAbort = (): void => finish(new AbortedError(`${about}: aborted`));
      if (options.signal?.aborted === true) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const sendCommand = (): void => {
        phase = 'answer';
        socket.write(`\t${tabEscape(context.user ?? '')}\t${args.map(tabEscape).join('\t')}\n`);
      };

      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write('VERSION\tdoveadm-server\t1\t0\n'));
      socket.on('error', (error: NodeJS.ErrnoException) =>
        finish(
          new ConnectionError(
            `${about}: ${error.code ?? error.message}`,
            error.code === 'ECONNREFUSED' ? 'refused' : 'reset',
          ),
        ),
      );
      socket.on('close', () =>
        finish(
          new ConnectionError(`${about}: closed without an answer`, 'closed-without-response'),
        ),
      );
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        for (;;) {
          if (phase !== 'answer') {
            const end = buffer.indexOf('\n');
            if (end < 0) return;
            const line = buffer.slice(0, end);
            buffer = buffer.slice(end + 1);
            if (line.startsWith('VERSION\t')) continue;
            if (phase === 'greeting' && line === '-') {
              phase = 'auth';
              const plain = Buffer.from(`\0doveadm\0${this.#password}`).toString('base64');
              socket.write(`PLAIN\t${plain}\n`);
            } else if (line === '+') {
              sendCommand();
            } else if (phase === 'auth' && line === '-') {
              finish(
                // Not HTTP: no status (0), and nothing in the answer but the refusal.
                new AuthenticationError(`${about}: the doveadm password was refused`, {
                  command: context.command,
                  status: 0,
                  bodyPreview: '-',
                }),
              );
              return;
            } else {
              finish(
                new UnexpectedResponseError(`${about}: unexpected handshake line`, {
                  command: context.command,
                  bodyPreview: line.slice(0, 100),
                }),
              );
              return;
            }
            continue;
          }
          // Printed values, each ended by a tab, then a newline, then "+" or "-CODE".
          const match = /^((?:[^\t\n]*\t)*)\n([+-][^\n]*)\n/.exec(buffer);
          if (match === null) return;
          const values = (match[1] ?? '')
            .split('\t')
            .slice(0, -1)
            .map((value) => tabUnescape(value));
          const status = match[2] ?? '';
          if (status === '+') finish(undefined, { values });
          else {
            const name = status.slice(1).split(' ')[0] ?? '';
            finish(
              errorForDoveadmFailure(
                { type: 'exitCode', exitCode: EXIT_CODES[name] },
                context,
                printsState && values.length === 1 ? values[0] : undefined,
              ),
            );
          }
          return;
        }
      });
    });
  }
}
