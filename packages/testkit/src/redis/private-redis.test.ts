import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { dockerMissing } from '../dovecot/dovecot-container';
import { requireOrSkip } from '../dovecot/availability';
import { PrivateRedis, type RedisBackend, redisImage } from './private-redis';

/** null when the container backend can run here: a Docker engine and the Redis image. */
function containerMissing(): string | null {
  const docker = dockerMissing();
  if (docker !== null) return docker;
  const found = spawnSync('docker', ['image', 'inspect', redisImage()], { stdio: 'ignore' });
  return found.status === 0
    ? null
    : `image ${redisImage()} is not here (scripts/docker-images.sh builds it where no registry is reachable)`;
}

const BACKENDS: [RedisBackend, string | null][] = [
  ['process', null],
  ['container', containerMissing()],
];

describe.each(BACKENDS)('PrivateRedis on the %s backend', (backend, missing) => {
  const run = requireOrSkip(`PrivateRedis (${backend})`, missing);

  (run ? it : it.skip)(
    'serves, keeps its data across a restart, and is gone after a kill',
    async () => {
      const redis = await PrivateRedis.start({ backend });
      const client = new Redis({
        port: redis.port,
        host: '127.0.0.1',
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      client.on('error', () => undefined);
      try {
        expect(redis.backend).toBe(backend);
        expect(redis.containerId === undefined).toBe(backend === 'process');
        await client.connect();
        await client.set('kept', 'yes');
        await client.quit();
        // SIGTERM makes Redis write its AOF; the same port and folder come back.
        await redis.restart();
        const again = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
        await again.connect();
        expect(await again.get('kept')).toBe('yes');
        again.disconnect();
        await redis.kill();
        const probe = new Redis({
          port: redis.port,
          host: '127.0.0.1',
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => undefined);
        await expect(probe.connect()).rejects.toThrow();
        probe.disconnect();
      } finally {
        client.disconnect();
        await redis.stop();
      }
    },
  );
});
