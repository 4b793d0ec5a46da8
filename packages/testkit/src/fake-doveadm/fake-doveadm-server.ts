import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sleep } from '../timing/sleep';

/**
 * How the fake answers one command:
 * - `'success'`: the normal answer (for `sync`, a fresh opaque state);
 * - a number: doveadm's exit code, as `["error",{"type":"exitCode","exitCode":N},tag]`;
 * - `'close'`: the socket is destroyed without an answer, as when the doveadm process dies;
 * - `'http-500'`: HTTP 500 with an empty body, as a proxy in front of doveadm might send;
 * - `'hang'`: no answer ever, to exercise the caller's timeout.
 */
export type FakeAnswer = 'success' | number | 'close' | 'http-500' | 'hang';

/** Decides the answer of a call; a promise lets a test hold a sync open until it says so. */
export type FakeBehaviour = (call: FakeDoveadmCall) => FakeAnswer | Promise<FakeAnswer>;

/** A fixed latency, or one per user (e.g. one slow mailbox among fast ones). */
export type FakeLatency = number | ((user: string) => number);

export interface FakeDoveadmOptions {
  /** `doveadm_password`; requests must carry Basic `doveadm:<password>`. */
  password: string;
  /** How long a `sync` takes before it is answered, in ms. Default 0. */
  latencyMs?: FakeLatency;
  /** Default: every call succeeds. */
  behaviour?: FakeBehaviour;
  /** What `user` lists. Default: none. */
  users?: readonly string[];
  /**
   * The clock of startedAt/endedAt. Default performance.now(): monotonic and sub-millisecond,
   * which overlap checks need; pass Date.now to compare with job timestamps instead.
   */
  clock?: () => number;
}

/**
 * One recorded command. A class rather than object literals so that every record has the same
 * hidden class: the benchmark records tens of thousands of them.
 */
export class FakeDoveadmCall {
  /** When the answer was written (or the socket destroyed); NaN while it runs or hangs. */
  endedAt = Number.NaN;
  /** undefined while the call runs. */
  answer: FakeAnswer | undefined = undefined;
  /** The state a successful sync handed out. */
  returnedState: string | undefined = undefined;
  /**
   * When the dsync itself began: on arrival without `lockTimeout`, or once it held the user's
   * dsync lock. NaN when it never began (the lock wait timed out, or a refused request).
   */
  dsyncStartedAt = Number.NaN;
  /** When the dsync ended, before its lock was released; NaN while it runs or never ran. */
  dsyncEndedAt = Number.NaN;

  constructor(
    readonly command: string,
    /** `params.user` when it is a string, else ''. */
    readonly user: string,
    readonly destination: readonly string[],
    /** undefined when the request carried no `state` key. */
    readonly state: string | undefined,
    readonly fullSync: boolean,
    readonly startedAt: number,
    /** The parameters as received, for checks this record does not spell out. */
    readonly params: Readonly<Record<string, unknown>>,
    readonly tag: string,
  ) {}

  get running(): boolean {
    return Number.isNaN(this.endedAt);
  }
}

type ParameterType = 'string' | 'boolean' | 'integer' | 'array';

/** What Dovecot 2.4.1 lists for the commands the fake answers (README "Doveadm HTTP API"). */
const COMMAND_PARAMETERS: Readonly<Record<string, readonly [string, ParameterType][]>> = {
  sync: [
    ['user', 'string'],
    ['allUsers', 'boolean'],
    ['socketPath', 'string'],
    ['transFlags', 'integer'],
    ['noUserdbLookup', 'boolean'],
    ['userFile', 'string'],
    ['fullSync', 'boolean'],
    ['purgeRemote', 'boolean'],
    ['reverseSync', 'boolean'],
    ['lockTimeout', 'integer'],
    ['rawlog', 'string'],
    ['mailbox', 'string'],
    ['mailboxGuid', 'string'],
    ['namespace', 'array'],
    ['allNamespaces', 'boolean'],
    ['excludeMailbox', 'array'],
    ['allMailbox', 'boolean'],
    ['state', 'string'],
    ['syncSinceTime', 'string'],
    ['syncUntilTime', 'string'],
    ['syncFlags', 'string'],
    ['syncMaxSize', 'string'],
    ['timeout', 'integer'],
    ['destinationOption', 'array'],
    ['destination', 'array'],
    ['onewaySync', 'boolean'],
  ],
  // A user's mailboxes, read as the verifier and `verify` read them: every user has one INBOX
  // of MAILBOX_MESSAGES messages, the same on every fake (so two fakes are replicas in sync).
  mailboxList: [
    ['user', 'string'],
    ['mailboxMask', 'array'],
    ['subscriptions', 'boolean'],
  ],
  mailboxStatus: [
    ['user', 'string'],
    ['field', 'array'],
    ['mailboxMask', 'array'],
  ],
  fetch: [
    ['user', 'string'],
    ['field', 'array'],
    ['query', 'array'],
  ],
  user: [
    ['socketPath', 'string'],
    ['authInfo', 'array'],
    ['field', 'string'],
    ['expandField', 'string'],
    ['userdbOnly', 'boolean'],
    ['userMask', 'array'],
  ],
};

/** Messages in each user's INBOX on the fake. */
const MAILBOX_MESSAGES = 3;

const COMMAND_LIST_BODY = JSON.stringify(
  Object.entries(COMMAND_PARAMETERS).map(([command, parameters]) => ({
    command,
    parameters: parameters.map(([name, type]) => ({ name, type })),
  })),
);
const KNOWN_PARAMETERS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(COMMAND_PARAMETERS).map(([command, parameters]) => [
    command,
    new Set(parameters.map(([name]) => name)),
  ]),
);

const NO_DESTINATION: readonly string[] = [];
const EMPTY_PARAMS: Readonly<Record<string, unknown>> = {};
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

/** An answer that replaces the whole HTTP answer rather than adding an entry to it. */
interface NotAnEntry {
  readonly kind: 'close' | 'http-500' | 'hang';
}
// Shared instances: a command's outcome must not cost an allocation.
const NOT_AN_ENTRY: Readonly<Record<NotAnEntry['kind'], NotAnEntry>> = {
  close: { kind: 'close' },
  'http-500': { kind: 'http-500' },
  hang: { kind: 'hang' },
};
/** A command's answer entry, serialised, or what replaces the HTTP answer. */
type Outcome = string | NotAnEntry;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorEntry(type: string, exitCode: number, tag: string): string {
  return `["error",{"type":"${type}","exitCode":${exitCode}},${JSON.stringify(tag)}]`;
}

function maskMatcher(mask: string): RegExp {
  const pattern = mask
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`);
}

/**
 * dsync's per-user lock as Dovecot has it (dsync-brain.c): taken only when the sync asks for
 * it with `lockTimeout`, waited for up to that many seconds, and held until the dsync ends,
 * whether or not anybody still waits for the HTTP answer. A sync that cannot get it fails
 * with exit 75. Without `lockTimeout` two dsyncs of one user run side by side.
 */
class UserLocks {
  readonly #held = new Set<string>();
  readonly #waiting = new Map<string, Array<() => void>>();

  /** True once the lock is held, false after `timeoutMs` without it. */
  acquire(user: string, timeoutMs: number): Promise<boolean> {
    if (!this.#held.has(user)) {
      this.#held.add(user);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const queue = this.#waiting.get(user) ?? [];
      this.#waiting.set(user, queue);
      const grant = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = queue.indexOf(grant);
        if (index >= 0) queue.splice(index, 1);
        resolve(false);
      }, timeoutMs);
      queue.push(grant);
    });
  }

  release(user: string): void {
    const next = this.#waiting.get(user)?.shift();
    // Handed straight to the next waiter: nobody can slip in between.
    if (next !== undefined) next();
    else this.#held.delete(user);
  }
}

/**
 * A stand-in for Dovecot's doveadm HTTP API (`/doveadm/v1`) that answers `sync` and `user`
 * the way Dovecot 2.4 does, with a chosen latency and failures, and records every call with
 * its timing so that tests can check what a worker did: which users, which states, and
 * whether two dsyncs of one user ever ran at the same time. It models dsync's user lock
 * (UserLocks): a sync whose caller gave up (timeout, kill -9) keeps the lock until it ends.
 */
export class FakeDoveadm {
  /** Every call in order of arrival. */
  readonly calls: FakeDoveadmCall[] = [];
  readonly #byUser = new Map<string, FakeDoveadmCall[]>();
  readonly #server: http.Server;
  readonly #clock: () => number;
  readonly #sockets = new Set<Socket>();
  readonly #waiters = new Set<() => void>();
  #authorization = '';
  #latency: FakeLatency;
  #behaviour: FakeBehaviour | undefined;
  #users: readonly string[];
  #nextState = 0;
  #running = 0;
  readonly #locks = new UserLocks();

  private constructor(options: FakeDoveadmOptions) {
    this.setPassword(options.password);
    this.#latency = options.latencyMs ?? 0;
    this.#behaviour = options.behaviour;
    this.#users = options.users ?? [];
    this.#clock = options.clock ?? (() => performance.now());
    this.#server = http.createServer((request, response) => this.#handle(request, response));
    // Keep-alive sockets idle between bursts must not be dropped under a client about to
    // reuse them: that race would show up as spurious connection errors in the worker.
    this.#server.keepAliveTimeout = 60_000;
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: FakeDoveadmOptions): Promise<FakeDoveadm> {
    const fake = new FakeDoveadm(options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`; DoveadmClient appends `/doveadm/v1`. */
  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Commands being worked on now. */
  get running(): number {
    return this.#running;
  }

  /** Distinct users that at least one call named. */
  get userCount(): number {
    return this.#byUser.size;
  }

  /** The calls naming `user`, in order of arrival. Do not modify the array. */
  callsFor(user: string): readonly FakeDoveadmCall[] {
    return this.#byUser.get(user) ?? [];
  }

  /**
   * The sync calls naming `user`, in order of arrival: without the folder listings the worker
   * makes after some syncs (its replica folder repair).
   */
  syncsFor(user: string): FakeDoveadmCall[] {
    return this.callsFor(user).filter((call) => call.command === 'sync');
  }

  /** Sync calls, in order of arrival. */
  syncCalls(): FakeDoveadmCall[] {
    return this.calls.filter((call) => call.command === 'sync');
  }

  /**
   * Pairs of dsyncs of the same user that ran at the same time on the server, by
   * [dsyncStartedAt, endedAt], the earlier-started first. A dsync still running counts as
   * running forever. A call that waited on dsync's lock counts from when it held it.
   */
  overlaps(): [FakeDoveadmCall, FakeDoveadmCall][] {
    return this.#overlapping(
      (call) => call.dsyncStartedAt,
      (call) => call.dsyncEndedAt,
    );
  }

  /**
   * Pairs of `sync` calls of the same user whose HTTP requests overlapped, by [startedAt,
   * endedAt]. dsync's lock serialises the dsyncs of such a pair, but a worker that sends them
   * wastes a doveadm process: its lease is meant to prevent them.
   */
  callOverlaps(): [FakeDoveadmCall, FakeDoveadmCall][] {
    return this.#overlapping(
      (call) => call.startedAt,
      (call) => call.endedAt,
    );
  }

  /** NaN as an end: still running, so running forever. */
  #overlapping(
    startOf: (call: FakeDoveadmCall) => number,
    endOf: (call: FakeDoveadmCall) => number,
  ): [FakeDoveadmCall, FakeDoveadmCall][] {
    const pairs: [FakeDoveadmCall, FakeDoveadmCall][] = [];
    for (const calls of this.#byUser.values()) {
      const syncs = calls.filter((call) => call.command === 'sync' && !Number.isNaN(startOf(call)));
      // A custom clock need not be monotonic: sort by start.
      syncs.sort((a, b) => startOf(a) - startOf(b));
      for (let i = 0; i < syncs.length; i += 1) {
        const first = syncs[i];
        const end = Number.isNaN(endOf(first)) ? Number.POSITIVE_INFINITY : endOf(first);
        for (let j = i + 1; j < syncs.length && startOf(syncs[j]) < end; j += 1) {
          pairs.push([first, syncs[j]]);
        }
      }
    }
    return pairs;
  }

  setPassword(password: string): void {
    this.#authorization = `Basic ${Buffer.from(`doveadm:${password}`, 'utf8').toString('base64')}`;
  }

  /** undefined: every call succeeds again. */
  setBehaviour(behaviour: FakeBehaviour | undefined): void {
    this.#behaviour = behaviour;
  }

  setLatency(latencyMs: FakeLatency): void {
    this.#latency = latencyMs;
  }

  setUsers(users: readonly string[]): void {
    this.#users = users;
  }

  /** Forgets the recorded calls, e.g. between the phases of a benchmark. */
  reset(): void {
    this.calls.length = 0;
    this.#byUser.clear();
  }

  /**
   * Resolves once `condition()` holds. It is checked now and whenever a call starts or ends,
   * so keep it cheap (a counter, not a scan of `calls`).
   */
  waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`FakeDoveadm: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    if (request.url !== '/doveadm/v1') {
      request.resume();
      response.writeHead(404, { 'Content-Length': 0 }).end();
      return;
    }
    if (request.headers.authorization !== this.#authorization) {
      request.resume();
      response.writeHead(401, { 'Content-Length': 0 }).end();
      return;
    }
    if (request.method === 'GET') {
      request.resume();
      response.writeHead(200, JSON_HEADERS).end(COMMAND_LIST_BODY);
      return;
    }
    if (request.method !== 'POST') {
      request.resume();
      response.writeHead(405, { 'Content-Length': 0 }).end();
      return;
    }
    // Bodies are small; a single chunk is the rule, so concatenate only when there are more.
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    request.on('data', (chunk: Buffer) => {
      if (first === undefined) first = chunk;
      else (more ??= [first]).push(chunk);
    });
    request.on('end', () => {
      const body = more !== undefined ? Buffer.concat(more) : first;
      void this.#answer(body, request.socket, response);
    });
  }

  async #answer(
    body: Buffer | undefined,
    socket: Socket,
    response: http.ServerResponse,
  ): Promise<void> {
    let commands: unknown;
    try {
      commands = JSON.parse(body === undefined ? '' : body.toString('utf8'));
    } catch {
      response.writeHead(400, { 'Content-Type': 'text/plain' }).end('Invalid JSON input\n');
      return;
    }
    if (!Array.isArray(commands)) {
      response.writeHead(400, { 'Content-Type': 'text/plain' }).end('Invalid JSON input\n');
      return;
    }
    // doveadm runs the commands of one request one after the other.
    let entries = '';
    for (const command of commands as unknown[]) {
      const outcome = await this.#run(command);
      if (typeof outcome !== 'string') {
        if (outcome.kind === 'close') socket.destroy();
        else if (outcome.kind === 'http-500') {
          response.writeHead(500, { 'Content-Length': 0 }).end();
        }
        return;
      }
      entries = entries === '' ? outcome : `${entries},${outcome}`;
    }
    response.writeHead(200, JSON_HEADERS).end(`[${entries}]`);
  }

  /** One `[command, params, tag]`: its answer entry, or what replaces the HTTP answer. */
  async #run(entry: unknown): Promise<Outcome> {
    const [name, rawParams, rawTag] = Array.isArray(entry) ? (entry as unknown[]) : [];
    const command = typeof name === 'string' ? name : '';
    const params = isRecord(rawParams) ? rawParams : EMPTY_PARAMS;
    const tag = typeof rawTag === 'string' ? rawTag : '';
    const user = typeof params.user === 'string' ? params.user : '';
    const destination = Array.isArray(params.destination)
      ? (params.destination as unknown[]).filter((item): item is string => typeof item === 'string')
      : NO_DESTINATION;
    const call = new FakeDoveadmCall(
      command,
      user,
      destination,
      typeof params.state === 'string' ? params.state : undefined,
      params.fullSync === true,
      this.#clock(),
      params,
      tag,
    );
    this.calls.push(call);
    if (user !== '') {
      const list = this.#byUser.get(user);
      if (list === undefined) this.#byUser.set(user, [call]);
      else list.push(call);
    }
    // A 'hang' never settles, so its call stays running (endedAt NaN) for good.
    this.#running += 1;
    this.#wakeWaiters();
    try {
      return await this.#outcome(call);
    } finally {
      this.#running -= 1;
      call.endedAt = this.#clock();
      this.#wakeWaiters();
    }
  }

  #wakeWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of this.#waiters) waiter();
  }

  async #outcome(call: FakeDoveadmCall): Promise<Outcome> {
    const known = KNOWN_PARAMETERS.get(call.command);
    if (known === undefined) {
      call.answer = 0;
      return errorEntry('unknownMethod', 0, call.tag);
    }
    for (const key in call.params) {
      if (!known.has(key)) {
        call.answer = 0;
        return errorEntry('invalidRequest', 0, call.tag);
      }
    }
    // Mailbox reads (the verifier's, the folder repair's) are answered as read, whatever the
    // behaviour: the behaviours script syncs and user lookups, and count on seeing only those.
    if (
      call.command === 'mailboxList' ||
      call.command === 'mailboxStatus' ||
      call.command === 'fetch'
    ) {
      call.answer = 'success';
      return this.#mailboxSuccess(call);
    }
    if (call.command === 'sync') {
      // Real doveadm dies on a sync without destination: no HTTP answer at all.
      if (call.destination.length === 0) {
        call.answer = 'close';
        return NOT_AN_ENTRY.close;
      }
      const lockTimeout = call.params.lockTimeout;
      if (typeof lockTimeout === 'number' && lockTimeout > 0) {
        if (!(await this.#locks.acquire(call.user, lockTimeout * 1000))) {
          // Dovecot: "Couldn't lock .../.dovecot-sync.lock", and the dsync fails as temporary.
          call.answer = 75;
          return errorEntry('exitCode', 75, call.tag);
        }
        try {
          return await this.#dsync(call);
        } finally {
          this.#locks.release(call.user);
        }
      }
      return this.#dsync(call);
    }
    return this.#respond(call);
  }

  /** The sync's own work: its latency, then the behaviour's answer. */
  async #dsync(call: FakeDoveadmCall): Promise<Outcome> {
    call.dsyncStartedAt = this.#clock();
    try {
      const latency = typeof this.#latency === 'number' ? this.#latency : this.#latency(call.user);
      if (latency > 0) await sleep(latency);
      return await this.#respond(call);
    } finally {
      call.dsyncEndedAt = this.#clock();
    }
  }

  async #respond(call: FakeDoveadmCall): Promise<Outcome> {
    // The behaviour sees every known command, `user` included: call.command tells them apart.
    const chosen = this.#behaviour === undefined ? 'success' : await this.#behaviour(call);
    call.answer = chosen;
    if (chosen === 'hang') return new Promise<Outcome>(() => undefined);
    if (typeof chosen === 'number') return errorEntry('exitCode', chosen, call.tag);
    if (chosen !== 'success') return NOT_AN_ENTRY[chosen];
    if (call.command === 'sync') return this.#syncSuccess(call);
    if (call.command === 'user') return this.#userSuccess(call);
    return this.#mailboxSuccess(call);
  }

  /** The user's one INBOX: listed, its status, or its messages, in doveadm's shapes. */
  #mailboxSuccess(call: FakeDoveadmCall): string {
    const tag = JSON.stringify(call.tag);
    const guid = createHash('md5').update(call.user).digest('hex');
    let rows: Record<string, string>[];
    if (call.command === 'mailboxList') {
      rows = [{ mailbox: 'INBOX' }];
    } else if (call.command === 'mailboxStatus') {
      rows = [
        {
          mailbox: 'INBOX',
          messages: String(MAILBOX_MESSAGES),
          uidnext: String(MAILBOX_MESSAGES + 1),
          uidvalidity: '1700000000',
          guid,
          highestmodseq: String(MAILBOX_MESSAGES + 1),
        },
      ];
    } else {
      rows = Array.from({ length: MAILBOX_MESSAGES }, (_, i) => ({
        mailbox: 'INBOX',
        uid: String(i + 1),
        guid: `${guid.slice(0, 24)}${String(i).padStart(8, '0')}`,
        flags: i === 0 ? '\\Seen' : '',
      }));
    }
    return `["doveadmResponse",${JSON.stringify(rows)},${tag}]`;
  }

  #syncSuccess(call: FakeDoveadmCall): string {
    const tag = JSON.stringify(call.tag);
    // Without a `state` key Dovecot syncs but hands back no state.
    if (call.state === undefined) return `["doveadmResponse",[],${tag}]`;
    this.#nextState += 1;
    // Opaque to the caller; base64-looking like Dovecot's, and unique so tests can follow it.
    const state = `AQAA${this.#nextState.toString(36).padStart(8, '0')}==`;
    call.returnedState = state;
    return `["doveadmResponse",[{"state":"${state}"}],${tag}]`;
  }

  #userSuccess(call: FakeDoveadmCall): string {
    const tag = JSON.stringify(call.tag);
    const raw = call.params.userMask;
    const masks = (Array.isArray(raw) ? (raw as unknown[]) : [raw]).filter(
      (mask): mask is string => typeof mask === 'string',
    );
    const mask = masks[0] ?? '*';
    if (!mask.includes('*') && !mask.includes('?')) {
      // An exact name is looked up, not listed: that user's fields, or exit 67.
      if (!this.#users.includes(mask)) {
        call.answer = 67;
        return errorEntry('exitCode', 67, call.tag);
      }
      const fields = { uid: '1000', gid: '1000', home: `/home/${mask}` };
      return `["doveadmResponse",${JSON.stringify({ [mask]: fields })},${tag}]`;
    }
    const matchers = masks.map(maskMatcher);
    const userList = this.#users.filter((name) => matchers.some((matcher) => matcher.test(name)));
    return `["doveadmResponse",${JSON.stringify({ userList })},${tag}]`;
  }
}
