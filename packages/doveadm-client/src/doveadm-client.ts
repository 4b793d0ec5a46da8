import { inspect } from 'node:util';
import {
  describeMissingCapabilities,
  findMissingCapabilities,
  SYNC_REQUIREMENTS,
  type CommandRequirements,
  type DoveadmCommandInfo,
} from './capabilities';
import { InvalidArgumentError } from './errors/invalid-argument-error';
import { NotPossibleError } from './errors/not-possible-error';
import { UnknownUserError } from './errors/unknown-user-error';
import { UserListingFailedError } from './errors/user-listing-failed-error';
import { UnsupportedServerError } from './errors/unsupported-server-error';
import { authorizationHeader } from './http/authorization';
import { resolveEndpoint } from './http/endpoint';
import { HttpTransport, type HttpAnswer } from './http/http-transport';
import {
  encodeCommandRequest,
  errorForHttpStatus,
  parseJsonAnswer,
  payloadForTag,
  unexpected,
} from './protocol/command-answer';
import { errorForDoveadmFailure } from './protocol/error-for-doveadm-failure';
import type { DoveadmParams } from './protocol/doveadm-params';
import { isRecord } from './protocol/is-record';
import { syncCommand } from './protocol/sync-command';
import { UserList } from './protocol/user-list';
import { requireStatusFields } from './protocol/mailbox-status-fields';
import type { RequestContext } from './request-context';
import {
  type CallOptions,
  type DoveadmClientOptions,
  type DoveadmRead,
  type DoveadmReadResults,
  type FetchedMessage,
  type MailboxStatus,
  type MailboxListOptions,
  type MailboxStatusField,
  type SyncOptions,
  type SyncResult,
} from './types';

/** A command's payload, kept with the raw answer so later checks can quote it. */
interface CommandExchange {
  payload: unknown;
  answer: HttpAnswer;
  context: RequestContext;
}

export type { DoveadmRead, DoveadmReadResult, DoveadmReadResults } from './types';

/** A command ready to send, with how its payload becomes the method's result. */
interface PreparedCommand {
  command: string;
  params: DoveadmParams;
  decode: (payload: unknown, answer: HttpAnswer, context: RequestContext) => unknown;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_MAX_RESPONSE_BYTES = 512 * 1024 * 1024;

/**
 * A client for Dovecot's doveadm HTTP API (`/doveadm/v1`). HTTP 200 does not mean success
 * there: every call checks the entry answering its tag and throws a typed DoveadmError.
 */
export class DoveadmClient {
  readonly #endpoint: URL;
  readonly #transport: HttpTransport;
  readonly #defaultTimeoutMs: number;
  readonly #authKind: 'password' | 'api-key' | 'none';
  #nextTag = 1;

  constructor(options: DoveadmClientOptions) {
    this.#endpoint = resolveEndpoint(options.url);
    this.#defaultTimeoutMs = positiveNumber(options.timeoutMs, 'timeoutMs') ?? DEFAULT_TIMEOUT_MS;
    this.#authKind =
      options.password !== undefined
        ? 'password'
        : options.apiKey !== undefined
          ? 'api-key'
          : 'none';
    this.#transport = new HttpTransport({
      endpoint: this.#endpoint,
      authorization: authorizationHeader(options),
      agent: options.agent,
      maxResponseBytes:
        positiveNumber(options.maxResponseBytes, 'maxResponseBytes') ?? DEFAULT_MAX_RESPONSE_BYTES,
    });
  }

  /** The API endpoint the client posts to. It never holds credentials. */
  get url(): string {
    return this.#endpoint.href;
  }

  /**
   * Runs `doveadm sync` for one user and returns the new state.
   * Throws ChangedDuringSyncError (exit 2) when mailboxes changed meanwhile: Dovecot then
   * returns no state, so keep the previous one and sync again.
   */
  async sync(user: string, options: SyncOptions): Promise<SyncResult> {
    requireName(user, 'user');
    const destination = destinationList(options.destination);
    if (typeof options.state !== 'string') {
      throw new InvalidArgumentError(
        'doveadm sync: state must be a string ("" when none is known)',
      );
    }
    const params: Record<string, DoveadmParams[string]> = {
      user,
      destination,
      state: options.state,
    };
    if (options.fullSync === true) params.fullSync = true;
    const command = syncCommand(options);
    if (options.onewaySync === true) params.onewaySync = true;
    if (options.allNamespaces === true) params.allNamespaces = true;
    const lockTimeout = wholeSeconds(options.lockTimeout, 'lockTimeout');
    if (lockTimeout !== undefined) params.lockTimeout = lockTimeout;
    const timeout = wholeSeconds(options.timeout, 'timeout');
    if (timeout !== undefined) params.timeout = timeout;
    if (options.excludeMailbox !== undefined && options.excludeMailbox.length > 0) {
      params.excludeMailbox = [...options.excludeMailbox];
    }

    const { payload, answer, context } = await this.#exchange(command, params, options, user);
    const [first] = Array.isArray(payload) ? (payload as unknown[]) : [];
    if (!isRecord(first) || typeof first.state !== 'string') {
      throw unexpected(answer, context, 'the sync answer carries no state');
    }
    return { state: first.state };
  }

  /**
   * Lists the users matching `mask` through userdb iteration. A mask without wildcards makes
   * doveadm look that one user up instead; that is answered as a list of zero or one names.
   */
  async listUsers(mask = '*', options: CallOptions = {}): Promise<string[]> {
    const listed = await this.#listUsers(mask, options, false);
    return Array.isArray(listed) ? listed : listed.toArray();
  }

  /**
   * listUsers() for a large userdb: the names stay in the answer's bytes (UserList) instead
   * of a million JS strings, and are decoded a batch at a time as the caller reads them.
   */
  async listUserNames(mask = '*', options: CallOptions = {}): Promise<UserList> {
    const listed = await this.#listUsers(mask, options, true);
    return Array.isArray(listed) ? UserList.of(listed) : listed;
  }

  async #listUsers(
    mask: string,
    options: CallOptions,
    compact: boolean,
  ): Promise<string[] | UserList> {
    requireName(mask, 'mask');
    let exchanged: CommandExchange;
    try {
      exchanged = await this.#exchange(
        'user',
        { userMask: [mask] },
        options,
        undefined,
        (answer, tag) =>
          compact && answer.status === 200 ? UserList.scan(answer.body, tag) : undefined,
      );
    } catch (error) {
      if (error instanceof UnknownUserError && !hasWildcard(mask)) return [];
      if (error instanceof NotPossibleError) {
        throw new UserListingFailedError(
          `doveadm user: listing the users matching ${JSON.stringify(mask)} failed on the server (exit 65)`,
          { command: 'user', exitCode: 65, cause: error },
        );
      }
      throw error;
    }
    const { payload, answer, context } = exchanged;
    if (payload instanceof UserList) return payload;
    if (isRecord(payload) && Array.isArray(payload.userList)) {
      // Returned as parsed, without a copy: at 100,000+ users every copy counts.
      const users: unknown[] = payload.userList;
      if (!users.every((name) => typeof name === 'string')) {
        throw unexpected(answer, context, 'the user list holds a non-string entry');
      }
      return users;
    }
    if (isRecord(payload) && !hasWildcard(mask)) return Object.keys(payload);
    throw unexpected(answer, context, 'the answer carries no userList');
  }

  /** Status of the user's mailboxes matching `mask`, one entry per mailbox. */
  async mailboxStatus<F extends MailboxStatusField>(
    user: string,
    fields: readonly F[],
    mask: string | readonly string[] = '*',
    options: CallOptions = {},
  ): Promise<MailboxStatus<F>[]> {
    requireName(user, 'user');
    const prepared = mailboxStatusCommand(user, fields, mask);
    return (await this.#run(user, prepared, options)) as MailboxStatus<F>[];
  }

  /**
   * `doveadm mailbox list`: the names of the user's folders matching `mask`, or with
   * `subscriptions` the subscribed names (which may name folders that no longer exist). A
   * parent that exists only because of a child (`a` of `a/b`, `\NonExistent` in IMAP) is
   * listed too, though `mailboxStatus('*')` leaves it out and `mailboxStatus('a')` fails with
   * exit 68 (measured on 2.4.1 and 2.3.19). doveadm prints no flags, so nothing here says which
   * names are such parents.
   */
  async mailboxList(user: string, options: MailboxListOptions = {}): Promise<string[]> {
    requireName(user, 'user');
    return (await this.#run(user, mailboxListCommand(user, options), options)) as string[];
  }

  /**
   * `doveadm mailbox rename`: renames one of the user's mailboxes and its children. Never
   * touches messages, nor subscriptions: dsync carries the source's subscriptions itself, and
   * `-s` would subscribe the new name on a replica although the source never subscribed it.
   */
  async mailboxRename(
    user: string,
    from: string,
    to: string,
    options: CallOptions = {},
  ): Promise<void> {
    requireName(user, 'user');
    requireName(from, 'mailbox');
    requireName(to, 'new mailbox name');
    await this.#exchange('mailboxRename', { user, mailbox: from, newName: to }, options, user);
  }

  /**
   * `doveadm mailbox unsubscribe`: drops subscriptions by name, whether or not such a folder
   * exists. Never touches a folder or a message.
   */
  async mailboxUnsubscribe(
    user: string,
    names: readonly string[],
    options: CallOptions = {},
  ): Promise<void> {
    requireName(user, 'user');
    if (names.length === 0) return;
    for (const name of names) requireName(name, 'mailbox');
    await this.#exchange('mailboxUnsubscribe', { user, mailbox: [...names] }, options, user);
  }

  /**
   * `doveadm mailbox delete`: one mailbox (not its children). Subscriptions stay as they are:
   * they are dsync's to carry from the source, which may keep a deleted folder subscribed.
   */
  async mailboxDelete(user: string, mailbox: string, options: CallOptions = {}): Promise<void> {
    requireName(user, 'user');
    requireName(mailbox, 'mailbox');
    await this.#exchange('mailboxDelete', { user, mailbox: [mailbox] }, options, user);
  }

  /**
   * `doveadm fetch`: the requested fields of every message matching `query`, given as search
   * query words, e.g. `['mailbox', 'INBOX', 'all']`.
   */
  async fetch<F extends string>(
    user: string,
    fields: readonly F[],
    query: readonly string[],
    options: CallOptions = {},
  ): Promise<FetchedMessage<F>[]> {
    requireName(user, 'user');
    const prepared = fetchCommand(user, fields, query);
    return (await this.#run(user, prepared, options)) as FetchedMessage<F>[];
  }

  /**
   * Several reads of one user's mailboxes in ONE request, so ONE doveadm process on the server
   * instead of one per command (measured on 2.4.1 and 2.3.19: doveadm runs a request's
   * commands one after the other and answers each under its own tag, also when one fails).
   * `queries` names each read, e.g. `{ tree: { mailboxList: {} }, messages: { fetch: {
   * fields: ['uid'], query: ['all'] } } }`; the answer has the same names, each settled: the
   * value the method of the same name returns, or the DoveadmError it would throw for that
   * command alone. A failure of the whole request (transport, HTTP status) rejects instead.
   *
   * The commands only read, so one that the answer leaves out (a server or proxy answering
   * the first command only, or an answer that is no JSON array) is asked again on its own.
   * Dovecot 2.3.19 leaves out the comma next to an `unknownMethod` or `invalidRequest` entry;
   * such an answer is read as if it were there.
   */
  async readMany<const Q extends Record<string, DoveadmRead>>(
    user: string,
    queries: Q,
    options: CallOptions = {},
  ): Promise<DoveadmReadResults<Q>> {
    requireName(user, 'user');
    const names = Object.keys(queries);
    if (names.length === 0) {
      throw new InvalidArgumentError('doveadm client: readMany needs at least one read');
    }
    const commands = names.map((name) => readCommand(user, name, queries[name]));
    const settled = await this.#exchangeMany(commands, options, user);
    return Object.fromEntries(names.map((name, i) => [name, settled[i]])) as DoveadmReadResults<Q>;
  }

  /** Message GUIDs per mailbox name, in the server's order, to compare two replicas. */
  async messageGuidsByMailbox(
    user: string,
    options: CallOptions = {},
  ): Promise<Map<string, string[]>> {
    const messages = await this.fetch(user, ['mailbox', 'guid'], ['all'], options);
    const byMailbox = new Map<string, string[]>();
    for (const { mailbox, guid } of messages) {
      const guids = byMailbox.get(mailbox);
      if (guids === undefined) byMailbox.set(mailbox, [guid]);
      else guids.push(guid);
    }
    return byMailbox;
  }

  /**
   * Any doveadm command, for what this class does not wrap. `T` is what the caller expects
   * the payload to be; it is not checked.
   */
  async command<T = unknown>(
    name: string,
    params: DoveadmParams,
    options: CallOptions & { user?: string } = {},
  ): Promise<T> {
    requireName(name, 'command name');
    const { payload } = await this.#exchange(name, params, options, options.user);
    return payload as T;
  }

  /** The server's commands and their parameters (`GET /doveadm/v1`). */
  async commands(options: CallOptions = {}): Promise<DoveadmCommandInfo[]> {
    const context = this.#context('list commands');
    const answer = await this.#transport.send({
      method: 'GET',
      timeoutMs: positiveNumber(options.timeoutMs, 'timeoutMs') ?? this.#defaultTimeoutMs,
      signal: options.signal,
      context,
    });
    const list = parseJsonAnswer(answer, context);
    if (!Array.isArray(list) || !list.every(isCommandInfo)) {
      throw unexpected(answer, context, 'the command list has an unexpected shape');
    }
    return list;
  }

  /**
   * Checks at start-up that the server offers the commands and parameters we send; throws
   * UnsupportedServerError if not, and returns the command list otherwise.
   */
  async assertServerSupport(
    requirements: CommandRequirements = SYNC_REQUIREMENTS,
    options: CallOptions = {},
  ): Promise<DoveadmCommandInfo[]> {
    const commands = await this.commands(options);
    const missing = findMissingCapabilities(commands, requirements);
    if (missing.length > 0) {
      throw new UnsupportedServerError(
        `doveadm at ${this.url} does not support what dovewarden sends: ${describeMissingCapabilities(missing)}`,
        missing,
      );
    }
    return commands;
  }

  /** Releases the client's own keep-alive sockets. A caller-provided agent is left alone. */
  close(): void {
    this.#transport.close();
  }

  toString(): string {
    return `DoveadmClient(${this.url})`;
  }

  toJSON(): { url: string; auth: string } {
    return { url: this.url, auth: this.#authKind };
  }

  [inspect.custom](): string {
    return `DoveadmClient { url: '${this.url}', auth: '${this.#authKind}' }`;
  }

  /**
   * One command: `shortcut` may read the payload straight from the answer's bytes (the user
   * list); when it returns undefined the answer is parsed as usual.
   */
  async #exchange(
    command: string,
    params: DoveadmParams,
    options: CallOptions,
    user?: string,
    shortcut?: (answer: HttpAnswer, tag: string) => unknown,
  ): Promise<CommandExchange> {
    const context = this.#context(command, user);
    const tag = `dw${this.#nextTag++}`;
    const answer = await this.#transport.send({
      method: 'POST',
      body: encodeCommandRequest(command, params, tag),
      timeoutMs: positiveNumber(options.timeoutMs, 'timeoutMs') ?? this.#defaultTimeoutMs,
      signal: options.signal,
      context,
    });
    const read = shortcut?.(answer, tag);
    return { payload: read ?? payloadForTag(answer, tag, context), answer, context };
  }

  /** One prepared command alone, decoded. */
  async #run(user: string, prepared: PreparedCommand, options: CallOptions): Promise<unknown> {
    const { payload, answer, context } = await this.#exchange(
      prepared.command,
      prepared.params,
      options,
      user,
    );
    return prepared.decode(payload, answer, context);
  }

  /**
   * Several commands in one request (`[[cmd, params, tag], ...]`), each answer settled on its
   * own with the error that command alone would get. Commands the answer leaves out are sent
   * again one per request: only for commands that change nothing (readMany's).
   */
  async #exchangeMany(
    commands: readonly PreparedCommand[],
    options: CallOptions,
    user: string,
  ): Promise<PromiseSettledResult<unknown>[]> {
    const context = this.#context(commands.map((c) => c.command).join('+'), user);
    const tags = commands.map(() => `dw${this.#nextTag++}`);
    const answer = await this.#transport.send({
      method: 'POST',
      body: Buffer.from(
        JSON.stringify(commands.map((c, i) => [c.command, c.params, tags[i]])),
        'utf8',
      ),
      timeoutMs: positiveNumber(options.timeoutMs, 'timeoutMs') ?? this.#defaultTimeoutMs,
      signal: options.signal,
      context,
    });
    const statusError = errorForHttpStatus(answer, context);
    if (statusError !== undefined) throw statusError;
    const entries = batchEntries(answer.body.toString('utf8'));
    return Promise.all(
      commands.map(async (prepared, i): Promise<PromiseSettledResult<unknown>> => {
        try {
          const own = this.#context(prepared.command, user);
          const entry = entries?.find(
            (candidate) => Array.isArray(candidate) && candidate[2] === tags[i],
          );
          const value =
            entry === undefined
              ? await this.#run(user, prepared, options)
              : prepared.decode(entryPayload(entry as unknown[], answer, own), answer, own);
          return { status: 'fulfilled', value };
        } catch (reason) {
          return { status: 'rejected', reason };
        }
      }),
    );
  }

  #context(command: string, user?: string): RequestContext {
    return { command, user, endpoint: this.url };
  }
}

function requireName(value: unknown, what: string): void {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(`doveadm client: ${what} must be a non-empty string`);
  }
}

function destinationList(destination: unknown): string[] {
  // Without a destination the doveadm process dies and no HTTP answer comes, which would be
  // indistinguishable from a network failure; refuse before sending.
  const list = typeof destination === 'string' ? [destination] : destination;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((item) => typeof item === 'string' && item !== '')
  ) {
    throw new InvalidArgumentError(
      'doveadm sync: destination must be a non-empty string or list, e.g. "tcp:replica:12345"',
    );
  }
  return [...(list as string[])];
}

function nonEmptyList(value: string | readonly string[], what: string): string[] {
  const list = typeof value === 'string' ? [value] : [...value];
  if (list.length === 0 || !list.every((item) => typeof item === 'string' && item !== '')) {
    throw new InvalidArgumentError(`doveadm client: ${what} must not be empty`);
  }
  return list;
}

function wholeSeconds(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(`doveadm sync: ${what} must be a whole number of seconds`);
  }
  return value;
}

function positiveNumber(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`doveadm client: ${what} must be a positive number`);
  }
  return value;
}

function hasWildcard(mask: string): boolean {
  return mask.includes('*') || mask.includes('?');
}

function rowsOfStrings(
  payload: unknown,
  fields: readonly string[],
  onMismatch: () => Error,
): Record<string, string>[] {
  if (!Array.isArray(payload)) throw onMismatch();
  for (const row of payload as unknown[]) {
    if (!isRecord(row) || !fields.every((field) => typeof row[field] === 'string')) {
      throw onMismatch();
    }
  }
  return payload as Record<string, string>[];
}

function isCommandInfo(value: unknown): value is DoveadmCommandInfo {
  return (
    isRecord(value) &&
    typeof value.command === 'string' &&
    Array.isArray(value.parameters) &&
    (value.parameters as unknown[]).every(
      (parameter) =>
        isRecord(parameter) &&
        typeof parameter.name === 'string' &&
        typeof parameter.type === 'string',
    )
  );
}

function mailboxListCommand(
  user: string,
  options: { mask?: string | readonly string[]; subscriptions?: boolean },
): PreparedCommand {
  const params: Record<string, DoveadmParams[string]> = {
    user,
    mailboxMask: nonEmptyList(options.mask ?? '*', 'mask'),
  };
  if (options.subscriptions === true) params.subscriptions = true;
  return {
    command: 'mailboxList',
    params,
    decode: (payload, answer, context) =>
      rowsOfStrings(payload, ['mailbox'], () =>
        unexpected(answer, context, 'a mailbox list entry lacks its name'),
      ).map((row) => row.mailbox),
  };
}

function mailboxStatusCommand(
  user: string,
  fields: readonly MailboxStatusField[],
  mask: string | readonly string[],
): PreparedCommand {
  requireStatusFields(fields);
  const mailboxMask = nonEmptyList(mask, 'mask');
  return {
    command: 'mailboxStatus',
    params: { user, field: [...fields], mailboxMask },
    decode: (payload, answer, context) =>
      rowsOfStrings(payload, ['mailbox', ...fields], () =>
        unexpected(answer, context, 'a mailbox status entry lacks a requested field'),
      ),
  };
}

function fetchCommand(
  user: string,
  fields: readonly string[],
  query: readonly string[],
): PreparedCommand {
  if (fields.length === 0)
    throw new InvalidArgumentError('doveadm fetch: fields must not be empty');
  if (query.length === 0) throw new InvalidArgumentError('doveadm fetch: query must not be empty');
  return {
    command: 'fetch',
    params: { user, field: [...fields], query: [...query] },
    decode: (payload, answer, context) =>
      rowsOfStrings(payload, fields, () =>
        unexpected(answer, context, 'a fetched message lacks a requested field'),
      ),
  };
}

function readCommand(user: string, name: string, read: DoveadmRead | undefined): PreparedCommand {
  if (isRecord(read)) {
    if ('mailboxList' in read && isRecord(read.mailboxList)) {
      return mailboxListCommand(user, read.mailboxList);
    }
    if ('mailboxStatus' in read && isRecord(read.mailboxStatus)) {
      const { fields, mask } = read.mailboxStatus;
      return mailboxStatusCommand(user, fields, mask ?? '*');
    }
    if ('fetch' in read && isRecord(read.fetch)) {
      const { fields, query } = read.fetch;
      if (Array.isArray(fields) && Array.isArray(query)) return fetchCommand(user, fields, query);
    }
  }
  throw new InvalidArgumentError(
    `doveadm client: read ${JSON.stringify(name)} must be one of mailboxList, mailboxStatus, fetch`,
  );
}

/**
 * The entries of a batched answer, or undefined when it is no JSON array (then every command
 * is asked again alone). Dovecot 2.3.19 writes no comma after an `unknownMethod` entry and
 * none before an `invalidRequest` one (`[["error",…,"a"]["doveadmResponse",…,"b"]]`,
 * measured); such an answer is read with the commas put back.
 */
function batchEntries(text: string): unknown[] | undefined {
  for (const candidate of [text, withEntrySeparators(text)]) {
    try {
      const parsed: unknown = JSON.parse(candidate);
      return Array.isArray(parsed) ? (parsed as unknown[]) : undefined;
    } catch {
      // Not JSON: try again with the commas put back, then give up.
    }
  }
  return undefined;
}

/** Puts a comma between two top-level entries written as `][`, outside strings. */
function withEntrySeparators(text: string): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let closedEntry = false;
  for (const char of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      out += char;
      continue;
    }
    if (closedEntry && char === '[') out += ',';
    if (char.trim() !== '') closedEntry = false;
    if (char === '"') inString = true;
    else if (char === '[' || char === '{') depth += 1;
    else if (char === ']' || char === '}') {
      depth -= 1;
      closedEntry = depth === 1 && char === ']';
    }
    out += char;
  }
  return out;
}

/** An answer entry's payload, or the error it carries (payloadForTag for one entry). */
function entryPayload(entry: unknown[], answer: HttpAnswer, context: RequestContext): unknown {
  const [type, payload] = entry;
  if (type === 'doveadmResponse') return payload;
  if (type === 'error' && isRecord(payload) && typeof payload.type === 'string') {
    const exitCode = typeof payload.exitCode === 'number' ? payload.exitCode : undefined;
    throw errorForDoveadmFailure({ type: payload.type, exitCode }, context);
  }
  throw unexpected(answer, context, `unknown answer entry type ${JSON.stringify(type)}`);
}
