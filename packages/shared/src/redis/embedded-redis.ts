import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisTarget } from '../config/address';
import { ConfigError } from '../config/config-error';
import type { Logger } from '../logging/logger';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portFile(dataDir: string): string {
  return `${dataDir}/redis.port`;
}

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

/**
 * The durable stand-in for the original's miniredis: a private redis-server child with AOF
 * in the data folder, so that queued syncs and dsync states survive a restart of
 * `dovewarden all`. It listens on 127.0.0.1 only, on a free port.
 */
export class EmbeddedRedis {
  private constructor(
    private readonly child: ChildProcess,
    readonly target: RedisTarget,
    private readonly logger: Logger,
    private readonly dataDir: string,
  ) {}

  /** The embedded Redis of a running `dovewarden all` using dataDir, if there is one. */
  static runningTarget(dataDir: string): RedisTarget | undefined {
    try {
      const port = Number(readFileSync(portFile(resolvePath(dataDir)), 'utf8').trim());
      if (!Number.isInteger(port) || port <= 0) return undefined;
      return {
        host: '127.0.0.1',
        port,
        username: undefined,
        password: undefined,
        db: 0,
        tls: false,
      };
    } catch {
      return undefined;
    }
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
    mkdirSync(dataDir, { recursive: true });
    await EmbeddedRedis.stopOrphan(dataDir, options.logger);

    const port = await freePort();
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dataDir,
        '--pidfile',
        `${dataDir}/redis.pid`,
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
        '--protected-mode',
        'yes',
      ],
      // Its own process group: Ctrl-C signals the whole terminal group, and Redis must outlive
      // the apps' shutdown, which still writes to it. stop() ends it last.
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    const log = options.logger.child({ context: 'embedded-redis' });
    child.stdout?.on('data', (chunk: Buffer) => log.debug(chunk.toString('utf8').trim()));
    child.stderr?.on('data', (chunk: Buffer) => log.warn(chunk.toString('utf8').trim()));

    const target: RedisTarget = {
      host: '127.0.0.1',
      port,
      username: undefined,
      password: undefined,
      db: 0,
      tls: false,
    };
    const embedded = new EmbeddedRedis(child, target, log, dataDir);
    await embedded.waitUntilAnswering(20_000);
    // Operator commands (dovewarden status, replicate, ...) find the running Redis here.
    writeFileSync(portFile(dataDir), `${port}\n`);
    log.info('embedded redis-server started', { port, dataDir, pid: child.pid });
    return embedded;
  }

  /** A redis-server left behind by a `dovewarden all` that was killed would corrupt the AOF. */
  private static async stopOrphan(dataDir: string, logger: Logger): Promise<void> {
    const pidFile = `${dataDir}/redis.pid`;
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return;
    }
    if (!cmdline.includes('redis-server') || !cmdline.includes(dataDir)) return;
    logger.warn('stopping a redis-server left over from an earlier run', { pid, dataDir });
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) await sleep(100);
  }

  private async waitUntilAnswering(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`redis-server exited with code ${this.child.exitCode} at start-up`);
      }
      const probe = new Redis({
        host: this.target.host,
        port: this.target.port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        // Loading a large AOF answers LOADING errors until it is done.
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      await sleep(100);
    }
    throw new Error(`redis-server did not answer within ${timeoutMs} ms`);
  }

  /** SIGTERM makes redis-server flush the AOF before it exits. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
    rmSync(portFile(this.dataDir), { force: true });
    this.logger.info('embedded redis-server stopped');
  }
}
