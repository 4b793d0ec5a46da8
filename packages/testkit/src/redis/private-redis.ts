import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisTarget, untilPong } from '@dovewarden/shared';
import { runCommand } from '../dovecot/run-command';
import { hangGuard } from '../timing/calibration';

export function freePort(): Promise<number> {
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

/** Where a private Redis runs: a redis-server process, or a container through testcontainers. */
export type RedisBackend = 'process' | 'container';

/** The image of the container backend: the one docker-compose.yml names (or a local build of it). */
export function redisImage(): string {
  return process.env.DOVEWARDEN_REDIS_IMAGE || 'redis:7.4.2-alpine';
}

/** The started container's handle, as testcontainers gives it. */
interface StartedContainer {
  getId(): string;
  stop(options?: { timeout?: number; remove?: boolean }): Promise<unknown>;
}

/**
 * A redis-server of the test's own, on a free port, for tests that kill or restart Redis.
 * restart() keeps the port and the data folder, so clients reconnect to the same address. On the
 * container backend the server runs in the Redis image on the host's network, its data folder
 * mounted at the same path: the same address, the same files, the same kill and restart.
 */
export class PrivateRedis {
  #child: ChildProcess | undefined;
  #container: StartedContainer | undefined;
  readonly dir: string;

  private constructor(
    readonly port: number,
    private readonly appendOnly: boolean,
    readonly backend: RedisBackend,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'dovewarden-redis-'));
  }

  static async start(
    options: { appendOnly?: boolean; backend?: RedisBackend } = {},
  ): Promise<PrivateRedis> {
    const redis = new PrivateRedis(
      await freePort(),
      options.appendOnly ?? true,
      options.backend ?? 'process',
    );
    await redis.startProcess();
    return redis;
  }

  /** The container's id on the container backend while it runs, else undefined. */
  get containerId(): string | undefined {
    return this.#container?.getId();
  }

  get target(): RedisTarget {
    return {
      host: '127.0.0.1',
      port: this.port,
      username: undefined,
      password: undefined,
      db: 0,
      tls: false,
    };
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private serverArgs(): string[] {
    return [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.appendOnly ? 'yes' : 'no',
      '--daemonize',
      'no',
    ];
  }

  private async startContainer(): Promise<void> {
    // Ryuk cannot be pulled where no registry is reachable; stop() and auto-removal clean up.
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    const { GenericContainer } = await import('testcontainers');
    this.#container = await new GenericContainer(redisImage())
      .withNetworkMode('host')
      .withUser('0:0')
      .withEntrypoint(['redis-server'])
      .withCommand(this.serverArgs())
      .withBindMounts([{ source: this.dir, target: this.dir, mode: 'rw' }])
      .withLabels({ 'org.dovewarden.test': `redis-${this.port}` })
      .withAutoRemove(true)
      .withStartupTimeout(hangGuard(2500).ms)
      .start();
  }

  private async startProcess(): Promise<void> {
    if (this.backend === 'container') await this.startContainer();
    else this.spawnServer();
    await this.waitForPing();
  }

  private spawnServer(): void {
    this.#child = spawn('redis-server', this.serverArgs(), { stdio: 'ignore' });
  }

  private async waitForPing(): Promise<void> {
    // A hang guard: 250 bare node process starts on this machine.
    await untilPong({ port: this.port, host: '127.0.0.1' }, Date.now() + hangGuard(250).ms, {
      everyMs: 50,
      what: `private redis-server on port ${this.port}`,
    });
  }

  /** Kills the server: SIGKILL by default, as a crash would. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const container = this.#container;
    if (container !== undefined) {
      this.#container = undefined;
      const killed = await runCommand('docker', ['kill', '--signal', signal, container.getId()]);
      // The container is removed once its server exits (auto-removal); wait for that.
      if (killed.exitCode === 0)
        await runCommand('docker', ['wait', container.getId()], { timeoutMs: hangGuard(500).ms });
      await container.stop({ timeout: 0, remove: true }).catch(() => undefined);
      return;
    }
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill('SIGTERM');
    await this.startProcess();
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
