import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  type DovecotPair,
  DoveadmTcpProxy,
  DovewardenProcess,
  PrivateRedis,
  asBound,
  cliPath,
  freePorts,
  sleep,
  startDovecotPair,
  waitUntil,
} from '@dovewarden/testkit';
import { QueueName, StateKeys, embeddedRedisSocket, redisServersOn } from '@dovewarden/shared';
import { DSYNC_LOG_CONFIG } from './dsync-log';
import { droppedEvents } from './dovecot-log';
import { HttpProxy } from './http-proxy';
import { LoadDriver, type LoadDriverOptions } from './load-driver';
import { ReplicaComparer } from './replica-comparer';
import { compactLogLine, describeSyncs, linesAbout, usersOf } from './divergence-report';

/**
 * Durations the harness configures or the product documents: the parts of a bound that are
 * not measured. Retry delays carry ±25 % jitter.
 */
export const HARNESS = {
  retryBaseMs: 500,
  retryMaxMs: 4000,
  /** The longest retry delay with its jitter. */
  retryMaxJitteredMs: 5000,
  shutdownMs: 5000,
  /** BullMQ's lock (15 s): a killed worker's job is taken over within one to two of these. */
  stallMs: 15_000,
  /** How often the scheduler looks for a recorded outage (apps/scheduler). */
  outageCheckMs: 5000,
} as const;

export type Role = 'ingest' | 'worker' | 'scheduler' | 'admin' | 'all';

export interface ChaosClusterOptions {
  users?: number;
  ingests?: number;
  workers?: number;
  schedulers?: number;
  admins?: number;
  /** One `dovewarden all` with its embedded Redis instead of separate processes. */
  allInOne?: boolean;
  /** DOVEWARDEN_* settings on top of the harness's, for every process. */
  env?: Record<string, string>;
}

/** The secrets a whole run must never print, in logs, metrics or answers. */
export interface Secrets {
  doveadmPassword: string;
  ingestPassword: string;
  adminPassword: string;
}

export interface ManagedProcess {
  role: Role;
  process: DovewardenProcess;
  metricsPort: number;
  /** ingest: its events port; admin: its UI port. */
  httpPort: number | undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Everything real, on loopback: Dovecot 2.4 A and B, a private redis-server with AOF, and
 * dovewarden as separate processes (2 ingest behind a round-robin balancer, 3 workers, a
 * scheduler). A exports its events with the config `dovewarden dovecot-config` prints. The
 * workers reach A's Doveadm API through a proxy that can fail or stall it on demand and that
 * records every sync, to prove per-user exclusivity on the server itself.
 */
export class ChaosCluster {
  readonly users: string[];
  readonly processes: ManagedProcess[] = [];
  /** Every process ever started, killed ones included: their output is evidence too. */
  readonly everStarted: ManagedProcess[] = [];
  /** How long each role's first start took until ready: the unit of a restart bound. */
  readonly firstStartMs = new Map<Role, number>();
  readonly keys: StateKeys;
  readonly comparer: ReplicaComparer;
  private readonly dataDir: string;

  private constructor(
    readonly namespace: string,
    readonly redis: PrivateRedis,
    readonly pair: DovecotPair,
    readonly balancer: HttpProxy,
    readonly doveadmProxy: HttpProxy,
    /** Between the workers and A's doveadm TCP listener, which every sync goes through. */
    readonly syncProxy: DoveadmTcpProxy,
    readonly secrets: Secrets,
    private readonly env: Record<string, string>,
    users: string[],
  ) {
    this.users = users;
    this.keys = new StateKeys(namespace);
    this.comparer = new ReplicaComparer(pair.a, pair.b);
    this.dataDir = mkdtempSync(join(tmpdir(), 'dovewarden-chaos-'));
  }

  static async start(options: ChaosClusterOptions = {}): Promise<ChaosCluster> {
    const users = Array.from(
      { length: options.users ?? 50 },
      (_, i) => `chaos${String(i + 1).padStart(2, '0')}`,
    );
    const secrets: Secrets = {
      doveadmPassword: `dvadm-${Math.random().toString(36).slice(2)}-secret`,
      ingestPassword: `ingest-${Math.random().toString(36).slice(2)}-secret`,
      adminPassword: `admin-${Math.random().toString(36).slice(2)}-secret`,
    };
    const redis = await PrivateRedis.start({ appendOnly: true });
    const balancer = await HttpProxy.start({ upstreams: [] });
    const printed = spawnSync(
      process.execPath,
      [cliPath(), 'dovecot-config', '--dovecot-version', '2.4'],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${balancer.port}`,
          DOVEWARDEN_INGEST_PASSWORD: secrets.ingestPassword,
        },
        encoding: 'utf8',
      },
    );
    if (printed.status !== 0) throw new Error(`dovecot-config failed: ${printed.stderr}`);
    const pair = await startDovecotPair({
      version: '2.4',
      users,
      doveadmPassword: secrets.doveadmPassword,
      // Dovecot allows 10 IMAP connections per user and IP by default; scenario 11 opens 20.
      extraConfigA: `\n${printed.stdout}\nprotocol imap {\n  mail_max_userip_connections = 100\n}\n${DSYNC_LOG_CONFIG}`,
      // CHAOS_DOVECOT_DEBUG=1: B's side of every dsync in its log too (what it saved, expunged,
      // created and deleted), for a failure's evidence. Off by default: it slows B down.
      ...(process.env.CHAOS_DOVECOT_DEBUG === '1' ? { extraConfigB: DSYNC_LOG_CONFIG } : {}),
    });
    const doveadmProxy = await HttpProxy.start({ upstreams: [pair.a.doveadmHttpPort] });
    const syncProxy = await DoveadmTcpProxy.start(pair.a.doveadmTcpPort);
    const namespace = `chaos-${Date.now().toString(36)}`;
    const env: Record<string, string> = {
      DOVEWARDEN_REDIS_MODE: 'external',
      DOVEWARDEN_REDIS_ADDR: `127.0.0.1:${redis.port}`,
      DOVEWARDEN_NAMESPACE: namespace,
      DOVEWARDEN_DOVEADM_URL: doveadmProxy.url,
      DOVEWARDEN_DOVEADM_PASSWORD: secrets.doveadmPassword,
      // Syncs through A's doveadm TCP listener, as README recommends: it keeps dsync's state
      // after an exit 2.
      DOVEWARDEN_DOVEADM_TCP_ADDR: syncProxy.addr,
      DOVEWARDEN_DOVEADM_DEST: pair.b.dsyncDestination,
      DOVEWARDEN_INGEST_PASSWORD: secrets.ingestPassword,
      DOVEWARDEN_ADMIN_PASSWORD: secrets.adminPassword,
      DOVEWARDEN_NUM_WORKERS: '4',
      DOVEWARDEN_MAX_PARALLEL_SYNCS: '12',
      // Short backoff so that a scenario converges in seconds, with enough attempts that a
      // 30 s outage cannot use them up: 0.5, 1, 2, 4, 4, ... s.
      DOVEWARDEN_RETRY_BASE_DELAY: `${HARNESS.retryBaseMs}ms`,
      DOVEWARDEN_RETRY_MAX_DELAY: `${HARNESS.retryMaxMs}ms`,
      DOVEWARDEN_RETRY_ATTEMPTS: '40',
      DOVEWARDEN_SHUTDOWN_TIMEOUT: `${HARNESS.shutdownMs}ms`,
      // No periodic sweep inside a scenario: convergence must come from the events (or, where
      // events are lost for real, from the outage catch-up), not from a sweep that hides loss.
      DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '1h',
      DOVEWARDEN_LOG_LEVEL: 'info',
      // CHAOS_SYNC_MODE=backup|twoway: a scenario measured in another sync mode (docs/reliability.md).
      ...(process.env.CHAOS_SYNC_MODE === undefined
        ? {}
        : { DOVEWARDEN_SYNC_MODE: process.env.CHAOS_SYNC_MODE }),
      ...options.env,
    };
    const cluster = new ChaosCluster(
      namespace,
      redis,
      pair,
      balancer,
      doveadmProxy,
      syncProxy,
      secrets,
      env,
      users,
    );
    const starts: Array<Promise<ManagedProcess>> = [];
    if (options.allInOne === true) {
      await cluster.startProcess('all');
      return cluster;
    }
    for (let i = 0; i < (options.ingests ?? 2); i += 1) starts.push(cluster.startProcess('ingest'));
    for (let i = 0; i < (options.workers ?? 3); i += 1) starts.push(cluster.startProcess('worker'));
    for (let i = 0; i < (options.schedulers ?? 1); i += 1)
      starts.push(cluster.startProcess('scheduler'));
    for (let i = 0; i < (options.admins ?? 0); i += 1) starts.push(cluster.startProcess('admin'));
    await Promise.all(starts);
    return cluster;
  }

  /**
   * Starts one more process and waits until /readyz says it is ready, or, with `ready: false`
   * (a worker with a wrong password is never ready), until /healthz answers.
   */
  async startProcess(
    role: Role,
    extraEnv: Record<string, string> = {},
    options: { ready?: boolean } = {},
  ): Promise<ManagedProcess> {
    const [metricsPort = 0, httpPort = 0] = await freePorts(2);
    const env: Record<string, string> = {
      ...this.env,
      DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${metricsPort}`,
      ...(role === 'ingest' || role === 'all'
        ? { DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}` }
        : {}),
      ...(role === 'admin' ? { DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${httpPort}` } : {}),
      ...(role === 'all'
        ? {
            DOVEWARDEN_REDIS_MODE: 'inmemory',
            DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${(await freePorts(1))[0] ?? 0}`,
          }
        : {}),
      DOVEWARDEN_DATA_DIR: this.dataDir,
      ...extraEnv,
    };
    const startedAt = Date.now();
    const process = DovewardenProcess.start({ args: [role], env, metricsPort });
    const managed: ManagedProcess = {
      role,
      process,
      metricsPort,
      httpPort: role === 'scheduler' || role === 'worker' ? undefined : httpPort,
    };
    this.processes.push(managed);
    this.everStarted.push(managed);
    if (options.ready ?? true) await process.waitUntilReady(30_000);
    else
      await this.waitFor(
        async () =>
          (await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => undefined))
            ?.status === 200,
        30_000,
        `${role} answering /healthz`,
      );
    if (!this.firstStartMs.has(role)) this.firstStartMs.set(role, Date.now() - startedAt);
    if (role === 'ingest' || role === 'all') this.syncBalancer();
    return managed;
  }

  of(role: Role): ManagedProcess[] {
    return this.processes.filter((p) => p.role === role && p.process.running);
  }

  /** SIGKILL, as the OOM killer or a lost node would. */
  async kill(managed: ManagedProcess): Promise<void> {
    managed.process.kill();
    await managed.process.exited();
    this.forget(managed);
  }

  /** SIGTERM, as an orchestrator would; returns the exit code (0 is a clean stop). */
  async terminate(managed: ManagedProcess): Promise<number | null> {
    const result = await managed.process.stop(30_000);
    this.forget(managed);
    return result.code;
  }

  private forget(managed: ManagedProcess): void {
    const index = this.processes.indexOf(managed);
    if (index >= 0) this.processes.splice(index, 1);
    if (managed.role === 'ingest' || managed.role === 'all') this.syncBalancer();
  }

  /**
   * kill -9 of `dovewarden all` and of its embedded redis-server together, as a container kill
   * or power loss would: Redis keeps only what its AOF had written.
   */
  async killAllInOne(managed: ManagedProcess): Promise<void> {
    const redisPid = Number(readFileSync(join(this.dataDir, 'redis.pid'), 'utf8').trim());
    managed.process.kill();
    try {
      process.kill(redisPid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await managed.process.exited();
    while (isAlive(redisPid)) await sleep(20);
    this.forget(managed);
  }

  /** The redis-servers running on the all-in-one's data dir: one while it runs, never two. */
  embeddedRedisServers(): number[] {
    return redisServersOn(this.dataDir);
  }

  /** Where the Redis in use listens: the private one, or the embedded one of `dovewarden all`. */
  private redisAddress(): { host: string; port: number } | { path: string } {
    if (!this.processes.some((p) => p.role === 'all'))
      return { host: '127.0.0.1', port: this.redis.port };
    return { path: embeddedRedisSocket(this.dataDir) };
  }

  private syncBalancer(): void {
    // The balancer keeps sending to a dead ingest until it fails over per request, as a real
    // one with passive health checks does; only a clean removal takes it out of the pool.
    this.balancer.setUpstreams(
      this.processes
        .filter((p) => (p.role === 'ingest' || p.role === 'all') && p.httpPort !== undefined)
        .map((p) => p.httpPort!),
    );
  }

  driver(options: Partial<LoadDriverOptions> = {}, seed = 1): LoadDriver {
    return new LoadDriver(this.pair.a, { users: this.users, ratePerSecond: 30, ...options }, seed);
  }

  /**
   * Gives every user mail and a first sync, so that a scenario starts from a replicated state
   * (and B has every user's home before anything compares it).
   */
  async seed(): Promise<void> {
    const driver = this.driver();
    const since = Date.now();
    await driver.burst(this.users.length, 'append');
    await driver.stop();
    // Not a bound: a precondition, given all the time a slow machine could need.
    const { last } = await this.comparer.waitForConvergence(this.users, 120_000, {
      pending: () => this.pendingJobs(),
    });
    if (!last.equal)
      throw new Error(
        `seeding did not converge:\n${last.differences.slice(0, 20).join('\n')}\n${await this.divergenceReport(last.differences, since)}`,
      );
  }

  redisClient(): Redis {
    const client = new Redis({
      ...this.redisAddress(),
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => undefined);
    return client;
  }

  /** Users marked failed, and jobs in BullMQ's failed set: both must be empty at the end. */
  async failures(): Promise<{ failedUsers: string[]; failedJobs: number }> {
    const client = this.redisClient();
    try {
      const failedUsers = await client.zrange(this.keys.failedUsers, 0, -1);
      const base = `${this.namespace}:${QueueName.Replication}`;
      const ids = await client.zrange(`${base}:failed`, 0, -1);
      for (const id of ids) {
        // Why it failed, in the test output: the assertion alone only shows a count.
        const [reason, data] = await client.hmget(`${base}:${id}`, 'failedReason', 'data');
        console.error(`failed job ${id}: ${String(reason)} ${String(data)}`);
      }
      return { failedUsers, failedJobs: ids.length };
    } finally {
      client.disconnect();
    }
  }

  /** Jobs still queued or running. */
  async pendingJobs(): Promise<number> {
    const client = this.redisClient();
    try {
      const base = `${this.namespace}:${QueueName.Replication}`;
      const [wait, prioritized, active, delayed] = await Promise.all([
        client.llen(`${base}:wait`),
        client.zcard(`${base}:prioritized`),
        client.llen(`${base}:active`),
        client.zcard(`${base}:delayed`),
      ]);
      return wait + prioritized + active + delayed;
    } finally {
      client.disconnect();
    }
  }

  /**
   * Why users still differ, for a failure's message (see divergence-report): each one's dsyncs
   * since `since`, its jobs still pending, and what the processes last logged about it. Kept
   * short: a CI log shows its tail.
   */
  async divergenceReport(differences: readonly string[], since: number): Promise<string> {
    const users = usersOf(differences, this.users).slice(0, 3);
    const pending = await this.pendingJobsByUser().catch((error: unknown) => {
      return new Map<string, string[]>([['?', [`(could not read the queue: ${String(error)})`]]]);
    });
    // A queue that never drained kept the comparison waiting: whose jobs, and how many.
    const total = [...pending.values()].reduce((sum, jobs) => sum + jobs.length, 0);
    const lines: string[] = [
      `jobs pending over all users: ${String(total)} (${[...pending.keys()].slice(0, 10).join(', ') || 'none'})`,
    ];
    for (const user of users) {
      lines.push(`${user}: jobs pending: ${(pending.get(user) ?? ['none']).join('; ')}`);
      const syncs = this.syncProxy.syncs.filter(
        (sync) => sync.user === user && sync.startedAt >= since,
      );
      lines.push(`${user}: dsyncs since t=0 (${String(syncs.length)}, last 8):`);
      lines.push(...describeSyncs(syncs.slice(-8), since));
      const logged = this.everStarted
        .flatMap((p, index) =>
          linesAbout(p.process.output, user, 10).map((line) =>
            compactLogLine(`${p.role}${String(index)}`, line),
          ),
        )
        .sort();
      lines.push(`${user}: last log lines about it:`, ...logged.slice(-10));
    }
    // An event Dovecot gave up on (after its retries) never reached ingest: a change that only
    // a later event or a sweep carries. Distinguishes a lost event from a sync that missed it.
    let dropped: string[] = [];
    try {
      dropped = droppedEvents(this.pair.a);
    } catch {
      // A's log is gone with A's folder: nothing to show.
    }
    lines.push(`events Dovecot A gave up on: ${String(dropped.length)}`, ...dropped.slice(-3));
    return lines.join('\n');
  }

  /** Every queued, running or delayed job, by user: "state id (attempts made)". */
  private async pendingJobsByUser(): Promise<Map<string, string[]>> {
    const client = this.redisClient();
    try {
      const base = `${this.namespace}:${QueueName.Replication}`;
      const [wait, prioritized, active, delayed] = await Promise.all([
        client.lrange(`${base}:wait`, 0, -1),
        client.zrange(`${base}:prioritized`, 0, -1),
        client.lrange(`${base}:active`, 0, -1),
        client.zrange(`${base}:delayed`, 0, -1),
      ]);
      const byUser = new Map<string, string[]>();
      const states: Array<[string, string[]]> = [
        ['waiting', wait],
        ['prioritized', prioritized],
        ['active', active],
        ['delayed', delayed],
      ];
      for (const [state, ids] of states) {
        for (const id of ids) {
          const [data, attempts, timestamp] = await client.hmget(
            `${base}:${id}`,
            'data',
            'atm',
            'timestamp',
          );
          let user = '?';
          try {
            const parsed = (JSON.parse(data ?? '{}') as { user?: unknown }).user;
            if (typeof parsed === 'string') user = parsed;
          } catch {
            // A job whose data does not parse is shown under '?'.
          }
          const age = timestamp === null ? '?' : `${String(Date.now() - Number(timestamp))} ms old`;
          byUser.set(user, [
            ...(byUser.get(user) ?? []),
            `${state} ${id} (${attempts ?? '0'} attempts, ${age})`,
          ]);
        }
      }
      return byUser;
    } finally {
      client.disconnect();
    }
  }

  /** Sum of a metric's samples whose line matches, over the given processes. */
  async metric(processes: ManagedProcess[], pattern: RegExp): Promise<number> {
    let total = 0;
    for (const managed of processes) {
      if (!managed.process.running) continue;
      const text = await (await fetch(`http://127.0.0.1:${managed.metricsPort}/metrics`)).text();
      for (const line of text.split('\n'))
        if (!line.startsWith('#') && pattern.test(line)) total += Number(line.split(' ').pop());
    }
    return total;
  }

  /** Every line every dovewarden process printed, for the secret check. */
  allOutput(): string {
    return this.everStarted.map((p) => p.process.output.join('\n')).join('\n');
  }

  async waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
    await waitUntil(check, asBound(timeoutMs), what, 100);
  }

  /** Stops everything; every dovewarden process must stop cleanly on SIGTERM. */
  async stop(): Promise<{ uncleanExits: string[] }> {
    const uncleanExits: string[] = [];
    await Promise.all(
      [...this.processes].map(async (managed) => {
        const code = await this.terminate(managed);
        if (code !== 0)
          uncleanExits.push(
            `${managed.role} exited ${String(code)}:\n${managed.process.output.slice(-15).join('\n')}`,
          );
      }),
    );
    this.comparer.close();
    await this.balancer.stop();
    await this.doveadmProxy.stop();
    await this.syncProxy.stop();
    await this.pair.stop();
    await this.redis.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
    return { uncleanExits };
  }
}
