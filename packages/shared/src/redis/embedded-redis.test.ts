import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConfigError } from '../config/config-error';
import { createLogger } from '../logging/logger';
import { EmbeddedRedis } from './embedded-redis';

const logger = createLogger('error', { silent: true });

describe('EmbeddedRedis', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dw-embedded-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps data across a restart (AOF in the data folder)', async () => {
    const first = await EmbeddedRedis.start({ dataDir, logger });
    const client = new Redis({ host: first.target.host, port: first.target.port });
    await client.set('dovewarden:probe', 'kept');
    await client.quit();
    await first.stop();

    const second = await EmbeddedRedis.start({ dataDir, logger });
    const again = new Redis({ host: second.target.host, port: second.target.port });
    expect(await again.get('dovewarden:probe')).toBe('kept');
    expect(await again.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    await again.quit();
    await second.stop();
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
