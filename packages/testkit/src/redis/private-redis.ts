import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisTarget } from '@dovewarden/shared';
import { hangGuard } from '../timing/calibration';
import { sleep } from '../timing/sleep';

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

/**
 * A redis-server of the test's own, on a free port, for tests that kill or restart Redis.
 * restart() keeps the port and the data folder, so clients reconnect to the same address.
 */
export class PrivateRedis {
  #child: ChildProcess | undefined;
  readonly dir: string;

  private constructor(
    readonly port: number,
    private readonly appendOnly: boolean,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'dovewarden-redis-'));
  }

  static async start(options: { appendOnly?: boolean } = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), options.appendOnly ?? true);
    await redis.startProcess();
    return redis;
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

  private async startProcess(): Promise<void> {
    this.#child = spawn(
      'redis-server',
      [
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
      ],
      { stdio: 'ignore' },
    );
    // A hang guard: 250 bare node process starts on this machine.
    const deadline = Date.now() + hangGuard(250).ms;
    while (Date.now() < deadline) {
      const probe = new Redis({
        port: this.port,
        host: '127.0.0.1',
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      await sleep(50);
    }
    throw new Error(`private redis-server on port ${this.port} did not start`);
  }

  /** Kills the server: SIGKILL by default, as a crash would. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
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
