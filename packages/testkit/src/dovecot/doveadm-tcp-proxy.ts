import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * pass: forward. down: not listening at all (connection refused), as a dead host or service.
 * slow: forward at once, but hold every answer back, as an overloaded server whose work still
 * happens while the client has long given up.
 */
export type ProxyMode = { kind: 'pass' } | { kind: 'down' } | { kind: 'slow'; delayMs: number };

/** One `sync` that went through a proxy to A, timed by A's answer. */
export interface ProxiedSync {
  user: string;
  /** `sync`, or `backup` (the backup sync mode). */
  command: 'sync' | 'backup';
  /** The command's arguments after `sync` (options, state, destination). */
  args: string[];
  startedAt: number;
  endedAt: number | undefined;
  /** A's status line: `+`, or `-CHANGED`, `-TEMPFAIL`, …; undefined before the answer. */
  status: string | undefined;
  /** What dsync printed before the status (the new state), unescaped. */
  printed: string[];
  /** When the caller gave up on it (closed before the answer reached it): a timeout, a kill. */
  abandonedAt?: number;
}

/**
 * What to do with a sync's answer before the worker sees it. Return a status line to answer
 * instead of A's (the printed state is passed on unchanged, as Dovecot would), or undefined to
 * pass A's own. The answer is held until the promise settles: a test can change A meanwhile.
 */
export type AnswerInterceptor = (sync: ProxiedSync) => Promise<string | undefined>;

/** Pairs of syncs of one user whose runs on the server overlapped (see overlapsOf). */
export function overlapsOf<
  T extends {
    user: string;
    startedAt: number;
    endedAt?: number | undefined;
    abandonedAt?: number | undefined;
  },
>(syncs: readonly T[], excuseAbandoned: boolean): Array<[T, T]> {
  const byUser = new Map<string, T[]>();
  for (const sync of syncs) byUser.set(sync.user, [...(byUser.get(sync.user) ?? []), sync]);
  const found: Array<[T, T]> = [];
  for (const list of byUser.values()) {
    const sorted = [...list].sort((x, y) => x.startedAt - y.startedAt);
    for (let i = 1; i < sorted.length; i += 1) {
      const previous = sorted[i - 1];
      const current = sorted[i];
      const abandonedFirst =
        excuseAbandoned &&
        previous.abandonedAt !== undefined &&
        previous.abandonedAt <= current.startedAt;
      if (current.startedAt < (previous.endedAt ?? Number.POSITIVE_INFINITY) && !abandonedFirst)
        found.push([previous, current]);
    }
  }
  return found;
}

/** Dovecot's str_tabunescape(). */
function tabUnescape(value: string): string {
  return value.replace(/\u0001(.)/g, (_, c: string) =>
    c === 't'
      ? '\t'
      : c === 'r'
        ? '\r'
        : c === 'n'
          ? '\n'
          : c === '0'
            ? '\0'
            : c === '1'
              ? '\u0001'
              : c,
  );
}

/**
 * Between the worker and A's doveadm TCP listener (the doveadm protocol 1.x, which the worker
 * runs syncs through): every byte goes to A for real. It records each `sync` (user, arguments,
 * A's status line and what dsync printed), can stall or refuse like a failing server, and can
 * replace a sync's status line after the run, holding the answer while a test changes A.
 */
export class DoveadmTcpProxy {
  readonly syncs: ProxiedSync[] = [];
  intercept: AnswerInterceptor | undefined;
  #mode: ProxyMode = { kind: 'pass' };
  #server: Server;
  readonly #sockets = new Set<Socket>();
  #port: number;

  private constructor(
    private readonly upstreamPort: number,
    port: number,
  ) {
    this.#port = port;
    this.#server = this.#createServer();
  }

  static async start(upstreamPort: number, port = 0): Promise<DoveadmTcpProxy> {
    const proxy = new DoveadmTcpProxy(upstreamPort, port);
    await proxy.#listen();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** As DOVEWARDEN_DOVEADM_TCP_ADDR takes it. */
  get addr(): string {
    return `tcp:127.0.0.1:${this.#port}`;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  async setMode(mode: ProxyMode): Promise<void> {
    const wasDown = this.#mode.kind === 'down';
    this.#mode = mode;
    if (mode.kind === 'down' && !wasDown) await this.#unlisten();
    if (mode.kind !== 'down' && wasDown) {
      this.#server = this.#createServer();
      await this.#listen();
    }
  }

  overlaps(excuseAbandoned = false): Array<[ProxiedSync, ProxiedSync]> {
    return overlapsOf(this.syncs, excuseAbandoned);
  }

  async stop(): Promise<void> {
    if (this.#mode.kind !== 'down') await this.#unlisten();
  }

  #createServer(): Server {
    const server = createServer((client) => this.#serve(client));
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  #listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#port, '127.0.0.1', () => {
        const address = this.#server.address();
        if (typeof address === 'object' && address !== null) this.#port = address.port;
        resolve();
      });
    });
  }

  #unlisten(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  #serve(client: Socket): void {
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    let fromClient = '';
    let fromUpstream = '';
    /** The sync whose answer A has not finished yet (one command at a time). */
    let pending: ProxiedSync | undefined;
    /** The sync whose answer has not reached the client yet: closing now abandons it. */
    let undelivered: ProxiedSync | undefined;
    const toClient = (data: string, delivers?: ProxiedSync): void => {
      const write = (): void => {
        if (client.destroyed) return;
        client.write(data);
        if (delivers !== undefined && undelivered === delivers) undelivered = undefined;
      };
      const mode = this.#mode;
      if (mode.kind === 'slow') setTimeout(write, mode.delayMs);
      else write();
    };
    client.setEncoding('utf8');
    upstream.setEncoding('utf8');
    client.on('data', (chunk: string) => {
      upstream.write(chunk);
      fromClient += chunk;
      let end: number;
      while ((end = fromClient.indexOf('\n')) >= 0) {
        const line = fromClient.slice(0, end);
        fromClient = fromClient.slice(end + 1);
        // A command line: "\tuser\tcommand\targs…" (flags first, empty here).
        const fields = line.split('\t').map(tabUnescape);
        if (fields.length >= 3 && (fields[2] === 'sync' || fields[2] === 'backup')) {
          pending = {
            user: fields[1] ?? '',
            command: fields[2] === 'backup' ? 'backup' : 'sync',
            args: fields.slice(3),
            startedAt: Date.now(),
            endedAt: undefined,
            status: undefined,
            printed: [],
          };
          this.syncs.push(pending);
          undelivered = pending;
        }
      }
    });
    upstream.on('data', (chunk: string) => {
      if (pending === undefined) {
        toClient(chunk);
        return;
      }
      // Hold a sync's answer until it is whole: printed values, a newline, then the status.
      fromUpstream += chunk;
      const match = /^((?:[^\t\n]*\t)*)\n([+-][^\n]*)\n/.exec(fromUpstream);
      if (match === null) return;
      const sync = pending;
      pending = undefined;
      if (clientGone) {
        sync.endedAt = Date.now();
        sync.status = match[2] ?? '';
        upstream.destroy();
        return;
      }
      fromUpstream = fromUpstream.slice(match[0].length);
      sync.endedAt = Date.now();
      sync.status = match[2] ?? '';
      sync.printed = (match[1] ?? '').split('\t').slice(0, -1).map(tabUnescape);
      const intercept = this.intercept;
      const deliver = (status: string): void => {
        toClient(`${match[1] ?? ''}\n${status}\n${fromUpstream}`, sync);
        fromUpstream = '';
      };
      if (intercept === undefined) deliver(sync.status);
      else
        void intercept(sync).then(
          (replaced) => deliver(replaced ?? sync.status ?? ''),
          () => deliver(sync.status ?? ''),
        );
    });
    let clientGone = false;
    client.on('close', () => {
      clientGone = true;
      if (undelivered !== undefined) undelivered.abandonedAt ??= Date.now();
      // A sync A is still running goes on there whatever the client does (as over HTTP): keep
      // A's side open until it answers, so that its end is known, then let go.
      if (pending === undefined) upstream.destroy();
    });
    upstream.on('close', () => {
      if (clientGone) return;
      const mode = this.#mode;
      if (mode.kind === 'slow') setTimeout(() => client.end(), mode.delayMs + 10);
      else client.end();
    });
    client.on('error', () => undefined);
    upstream.on('error', () => client.destroy());
  }
}
