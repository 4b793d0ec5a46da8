import http from 'node:http';
import type { Socket } from 'node:net';
import { type ProxyMode, overlapsOf } from '@dovewarden/testkit';

/** One Doveadm API sync that went through the proxy, timed by the upstream's answer. */
export interface ProxiedSync {
  user: string;
  startedAt: number;
  endedAt: number | undefined;
  status: number | undefined;
  /** When the caller gave up on it (closed before the answer reached it): a timeout, a kill. */
  abandonedAt?: number;
}

export interface HttpProxyOptions {
  /** Ports on 127.0.0.1, taken round-robin. */
  upstreams: number[];
  /** A port to listen on; a free one when absent. */
  port?: number;
}

/**
 * A tiny HTTP load balancer for the chaos harness: round-robin over upstreams, and, like nginx
 * with `proxy_next_upstream error`, a request whose upstream cannot be reached (refused, reset
 * before an answer) goes to the next one. Every Doveadm `sync` passing through is recorded, so
 * the suite can prove that no two syncs of one user ever ran at the same time on the server.
 */
export class HttpProxy {
  readonly syncs: ProxiedSync[] = [];
  #mode: ProxyMode = { kind: 'pass' };
  #next = 0;
  #server: http.Server;
  #sockets = new Set<Socket>();
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

  private constructor(
    private upstreams: number[],
    public port: number,
  ) {
    this.#server = this.createServer();
  }

  static async start(options: HttpProxyOptions): Promise<HttpProxy> {
    const proxy = new HttpProxy([...options.upstreams], options.port ?? 0);
    await proxy.listen();
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  async setMode(mode: ProxyMode): Promise<void> {
    const wasDown = this.#mode.kind === 'down';
    this.#mode = mode;
    if (mode.kind === 'down' && !wasDown) await this.unlisten();
    if (mode.kind !== 'down' && wasDown) {
      this.#server = this.createServer();
      await this.listen();
    }
  }

  setUpstreams(upstreams: number[]): void {
    this.upstreams = [...upstreams];
  }

  /**
   * Pairs of syncs of the same user whose server-side runs overlapped: what the product's lease
   * must prevent. With `excuseAbandoned`, a first call that its caller had already given up on
   * (its own sync timeout) is not counted: nobody waits for it any more, the next call may reach
   * the server before it ends, and only dsync's user lock keeps the two dsyncs apart, which
   * every scenario proves from A's own log (dsyncLockReport).
   */
  overlaps(excuseAbandoned = false): Array<[ProxiedSync, ProxiedSync]> {
    return overlapsOf(this.syncs, excuseAbandoned);
  }

  async stop(): Promise<void> {
    if (this.#mode.kind !== 'down') await this.unlisten();
    this.#agent.destroy();
  }

  private createServer(): http.Server {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.port, '127.0.0.1', () => {
        const address = this.#server.address();
        if (typeof address === 'object' && address !== null) this.port = address.port;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const sync = this.recordSync(body);
      if (sync !== undefined) {
        res.on('close', () => {
          if (!res.writableFinished) sync.abandonedAt ??= Date.now();
        });
      }
      this.forward(req, res, body, sync, 0);
    });
  }

  private recordSync(body: Buffer): ProxiedSync | undefined {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (!Array.isArray(parsed)) return undefined;
      const first: unknown = parsed[0];
      if (!Array.isArray(first) || (first[0] !== 'sync' && first[0] !== 'backup')) return undefined;
      const params = first[1] as { user?: unknown } | undefined;
      if (typeof params?.user !== 'string') return undefined;
      const sync: ProxiedSync = {
        user: params.user,
        startedAt: Date.now(),
        endedAt: undefined,
        status: undefined,
      };
      this.syncs.push(sync);
      return sync;
    } catch {
      return undefined;
    }
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
    sync: ProxiedSync | undefined,
    tried: number,
  ): void {
    // Two rounds over the upstreams: a reused keep-alive socket that the upstream closed at the
    // same moment fails at once (ECONNRESET) although the upstream is fine, and nginx too
    // retries such a request on a new connection. One round once let a POST fall through with
    // 502 when one ingest replica was killed and the other's idle socket had just been closed.
    if (this.upstreams.length === 0 || tried >= 2 * this.upstreams.length) {
      if (sync !== undefined) sync.endedAt = Date.now();
      res.writeHead(502, { 'content-type': 'text/plain' }).end('no upstream answered\n');
      return;
    }
    const port = this.upstreams[this.#next % this.upstreams.length];
    this.#next += 1;
    const headers = { ...req.headers };
    delete headers.connection;
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.#agent,
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          // The server's work is done now, whether or not the client still waits for it.
          if (sync !== undefined) {
            sync.endedAt = Date.now();
            sync.status = answer.statusCode;
          }
          const reply = (): void => {
            if (res.destroyed) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(parts));
          };
          const mode = this.#mode;
          if (mode.kind === 'slow') setTimeout(reply, mode.delayMs);
          else reply();
        });
      },
    );
    upstream.on('error', () => {
      // Refused or reset before an answer: this upstream is gone, try the next one. The POST
      // may be retried safely: ingest merges duplicates, and a sync that never started is
      // simply started elsewhere.
      this.forward(req, res, body, sync, tried + 1);
    });
    upstream.end(body);
  }
}
