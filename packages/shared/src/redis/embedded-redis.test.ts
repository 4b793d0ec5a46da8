import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError } from '../config/config-error';
import { createLogger } from '../logging/logger';
import { EmbeddedRedis, embeddedRedisSocket, redisServersOn } from './embedded-redis';

const logger = createLogger('error', { silent: true });

/** A hang guard relative to this machine: a number of bare node starts, measured here. */
function nodeStarts(count: number): number {
  const samples = [0, 1, 2]
    .map(() => {
      const t0 = performance.now();
      spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
      return performance.now() - t0;
    })
    .sort((x, y) => x - y);
  return Math.ceil(count * (samples[1] ?? 50));
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('EmbeddedRedis', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps data across a restart (AOF in the data folder)', async () => {
    const first = await EmbeddedRedis.start({ dataDir, logger });
    const client = new Redis({ path: first.target.socket });
    await client.set('dovewarden:probe', 'kept');
    await client.quit();
    await first.stop();

    const second = await EmbeddedRedis.start({ dataDir, logger });
    const again = new Redis({ path: second.target.socket });
    expect(await again.get('dovewarden:probe')).toBe('kept');
    expect(await again.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    await again.quit();
    await second.stop();
  });

  it('is private: a unix socket in a 0700 data dir, no TCP port', async () => {
    const embedded = await EmbeddedRedis.start({ dataDir, logger });
    try {
      expect(embedded.target.socket).toBe(embeddedRedisSocket(dataDir));
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(statSync(embeddedRedisSocket(dataDir)).mode & 0o777).toBe(0o700);
      const client = new Redis({ path: embedded.target.socket });
      expect(await client.config('GET', 'port')).toEqual(['port', '0']);
      await client.quit();
      // The operator commands find it by the data dir.
      expect(EmbeddedRedis.runningTarget(dataDir)?.socket).toBe(embeddedRedisSocket(dataDir));
    } finally {
      await embedded.stop();
    }
    expect(EmbeddedRedis.runningTarget(dataDir)).toBeUndefined();
  });

  it("shuts an earlier run's live redis-server down first, and loads what it wrote", async () => {
    // What a crashed older dovewarden left: a redis-server on the data dir, on TCP.
    const port = await freeTcpPort();
    const orphan = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dataDir,
        '--appendonly',
        'yes',
        '--save',
        '',
      ],
      { stdio: 'ignore', detached: true },
    );
    try {
      // Its client retries until the server listens; the first command waits for that.
      const old = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 20 });
      old.on('error', () => undefined);
      await old.set('dovewarden:from-the-crashed-run', 'kept');
      old.disconnect();
      expect(redisServersOn(dataDir)).toEqual([orphan.pid]);
    } catch (error) {
      orphan.kill('SIGKILL');
      throw error;
    }

    const embedded = await EmbeddedRedis.start({ dataDir, logger });
    try {
      expect(orphan.exitCode !== null || orphan.signalCode !== null || !isRunning(orphan.pid)).toBe(
        true,
      );
      expect(redisServersOn(dataDir)).toEqual([embedded.pid]);
      const client = new Redis({ path: embedded.target.socket });
      expect(await client.get('dovewarden:from-the-crashed-run')).toBe('kept');
      await client.quit();
    } finally {
      await embedded.stop();
    }
  });

  it('stops when the process that started it dies by kill -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-embedded-parent-'));
    const script = join(dir, 'parent.js');
    writeFileSync(
      script,
      `const { EmbeddedRedis, createLogger } = require(${JSON.stringify(join(__dirname, '..', '..', 'dist', 'index.js'))});
EmbeddedRedis.start({ dataDir: ${JSON.stringify(join(dir, 'data'))}, logger: createLogger('error', { silent: true }) })
  .then(() => { process.stdout.write('started\\n'); setInterval(() => undefined, 1000); });`,
    );
    const parent = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        parent.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('started')) resolve();
        });
        parent.once('exit', (code) => reject(new Error(`parent exited with ${String(code)}`)));
      });
      const [redisPid] = redisServersOn(join(dir, 'data'));
      expect(redisPid).toBeDefined();
      parent.kill('SIGKILL');
      // Within a few node starts: the kernel signals it at once (pdeathsig); a watchdog polls.
      expect(
        await until(() => redisServersOn(join(dir, 'data')).length === 0, nodeStarts(100)),
      ).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a data dir whose socket path would not fit, naming the setting', async () => {
    const deep = join(dataDir, 'x'.repeat(120));
    await expect(EmbeddedRedis.start({ dataDir: deep, logger })).rejects.toThrow(
      /too long for the embedded Redis's unix socket/,
    );
  });

  it('says how to fix a missing redis-server in one line', async () => {
    const attempt = EmbeddedRedis.start({
      dataDir,
      logger,
      binary: 'redis-server-that-does-not-exist',
    });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(
      /apt-get install redis-server.*DOVEWARDEN_REDIS_MODE=external/,
    );
  });
});
