import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import type { RedisTarget } from '../config/address';
import { untilPong } from './until-pong';
import { ConfigError } from '../config/config-error';
import type { Logger } from '../logging/logger';

/** The socket's path must fit sockaddr_un (108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function socketTarget(socket: string): RedisTarget {
  return {
    host: '127.0.0.1',
    port: 0,
    socket,
    username: undefined,
    password: undefined,
    db: 0,
    tls: false,
  };
}

/** Where an embedded Redis of this data dir listens: a unix socket inside it. */
export function embeddedRedisSocket(dataDir: string): string {
  return join(resolvePath(dataDir), 'redis.sock');
}

/**
 * The redis-server processes whose working directory is `dataDir`: the embedded Redis of any
 * run on it (Redis changes to its --dir at start). Read from /proc, so it finds them whatever
 * became of their pid file, and whatever Redis made of its process title (it rewrites it to
 * "redis-server 127.0.0.1:PORT", without the data dir).
 */
export function redisServersOn(dataDir: string): number[] {
  const dir = resolvePath(dataDir);
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (!comm.startsWith('redis-server') && !comm.startsWith('redis-check')) continue;
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * The durable stand-in for the original's miniredis: a private redis-server child with AOF in the
 * data folder, so that queued syncs and dsync states survive a restart of `dovewarden all`.
 *
 * - Private: it listens on a unix socket inside the data dir (made mode 0700, the socket 0700),
 *   never on TCP, so no other local user can read the dsync states or flush the queue.
 * - One per data dir: a start first shuts down any redis-server still running on the data dir
 *   (an earlier run's, after a crash or a kill -9 that did not reach it) with SIGTERM, which
 *   makes Redis write its AOF out, and waits until it is gone; then it starts its own, which
 *   loads that AOF. Not adopted: a Redis adopted from a dead run would be a process no parent
 *   of ours stops; a fresh child is tied to this run's life.
 * - Tied to its parent: started through setpriv --pdeathsig TERM, it gets SIGTERM (a clean
 *   shutdown) the moment the dovewarden process dies, even by kill -9 or the OOM killer.
 *   Without setpriv, a small watchdog shell does the same within a second.
 */
export class EmbeddedRedis {
  private constructor(
    private readonly child: ChildProcess,
    readonly target: RedisTarget,
    private readonly logger: Logger,
    private readonly dataDir: string,
    private readonly watchdog: ChildProcess | undefined,
  ) {}

  /** The embedded Redis of a running `dovewarden all` using dataDir, if there is one. */
  static runningTarget(dataDir: string): RedisTarget | undefined {
    const socket = embeddedRedisSocket(dataDir);
    return existsSync(socket) && redisServersOn(dataDir).length > 0
      ? socketTarget(socket)
      : undefined;
  }

  static async start(options: {
    dataDir: string;
    logger: Logger;
    binary?: string;
  }): Promise<EmbeddedRedis> {
    const binary = options.binary ?? 'redis-server';
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) {
      throw new ConfigError(
        `redis-server was not found on PATH: install it (Debian/Ubuntu: apt-get install redis-server) or use an external Redis with DOVEWARDEN_REDIS_MODE=external DOVEWARDEN_REDIS_ADDR=host:port`,
        'redis-mode',
      );
    }
    const dataDir = resolvePath(options.dataDir);
    const socket = embeddedRedisSocket(dataDir);
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
      throw new ConfigError(
        `the data dir's path is too long for the embedded Redis's unix socket (${socket} is over ${MAX_SOCKET_PATH_BYTES} bytes): choose a shorter data dir`,
        'data-dir',
      );
    }
    mkdirSync(dataDir, { recursive: true });
    // The AOF holds every dsync state: the data dir is its owner's alone.
    chmodSync(dataDir, 0o700);
    const log = options.logger.child({ context: 'embedded-redis' });
    await EmbeddedRedis.stopEarlierRuns(dataDir, log);
    // Files of older versions and runs: a stale socket, and the TCP port file of old.
    rmSync(socket, { force: true });
    rmSync(join(dataDir, 'redis.port'), { force: true });

    const args = [
      '--port',
      '0',
      '--unixsocket',
      socket,
      '--unixsocketperm',
      '700',
      '--dir',
      dataDir,
      '--pidfile',
      join(dataDir, 'redis.pid'),
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      '--daemonize',
      'no',
    ];
    const setpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' });
    const tiedByKernel = setpriv.error === undefined && setpriv.status === 0;
    const [command, commandArgs] = tiedByKernel
      ? ['setpriv', ['--pdeathsig', 'TERM', '--', binary, ...args]]
      : [binary, args];
    const child = spawn(command, commandArgs, {
      // Its own process group: Ctrl-C signals the whole terminal group, and Redis must outlive
      // the apps' shutdown, which still writes to it. stop() ends it last.
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (chunk: Buffer) => log.debug(chunk.toString('utf8').trim()));
    child.stderr?.on('data', (chunk: Buffer) => log.warn(chunk.toString('utf8').trim()));
    const watchdog =
      tiedByKernel || child.pid === undefined ? undefined : startWatchdog(process.pid, child.pid);

    const embedded = new EmbeddedRedis(child, socketTarget(socket), log, dataDir, watchdog);
    await embedded.waitUntilAnswering(20_000);
    log.info('embedded redis-server started', {
      socket,
      dataDir,
      pid: child.pid,
      stopsWithParent: tiedByKernel ? 'pdeathsig' : 'watchdog',
    });
    return embedded;
  }

  /**
   * Shuts down every redis-server still running on the data dir, from an earlier run that died
   * without stopping it (an older version's, or one whose parent-death signal did not arrive),
   * so that two servers never append to one AOF.
   */
  private static async stopEarlierRuns(dataDir: string, log: Logger): Promise<void> {
    const pids = redisServersOn(dataDir);
    if (pids.length === 0) return;
    log.warn(
      'shutting down the redis-server of an earlier run on this data dir before starting ours (SIGTERM: it writes its AOF out, which ours then loads)',
      { pids, dataDir },
    );
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Gone already.
      }
    }
    // A large AOF takes a while to write; past a minute, the kill loses at most its last second.
    const deadline = Date.now() + 60_000;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
    for (const pid of pids.filter(isAlive)) {
      log.error('earlier redis-server did not stop on SIGTERM: killing it', { pid });
      process.kill(pid, 'SIGKILL');
    }
    while (pids.some(isAlive)) await sleep(20);
  }

  private async waitUntilAnswering(timeoutMs: number): Promise<void> {
    const { child } = this;
    await untilPong({ path: this.target.socket }, Date.now() + timeoutMs, {
      everyMs: 100,
      what: `redis-server (within ${timeoutMs} ms)`,
      gaveUp: () =>
        child.exitCode === null
          ? undefined
          : `redis-server exited with code ${child.exitCode} at start-up`,
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM makes redis-server flush the AOF before it exits. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.watchdog?.kill('SIGKILL');
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
    rmSync(embeddedRedisSocket(this.dataDir), { force: true });
    this.logger.info('embedded redis-server stopped');
  }
}

/**
 * Where setpriv is missing: a detached shell that sends the Redis SIGTERM once this process is
 * gone, polling every half second.
 */
function startWatchdog(parentPid: number, redisPid: number): ChildProcess {
  const child = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; kill -TERM "$2" 2>/dev/null',
      'dovewarden-redis-watchdog',
      String(parentPid),
      String(redisPid),
    ],
    { detached: true, stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  child.unref();
  return child;
}
