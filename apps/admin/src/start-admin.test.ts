import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import request from 'supertest';
import { QueueName, Readiness, buildConfig, createLogger, createRedis } from '@dovewarden/shared';
import { startAdmin } from './start-admin';

describe('startAdmin', () => {
  const namespace = `dwtest-adm-${randomBytes(4).toString('hex')}`;
  const config = buildConfig(
    {
      'redis-mode': 'external',
      'redis-addr': '127.0.0.1:6379',
      namespace,
      'admin-addr': '127.0.0.1:0',
      'admin-password': 'admin-pw-123',
    },
    'admin',
  );

  afterAll(async () => {
    const cleanup = createRedis(config.redisAddr, 'wait-for-redis', 'cleanup');
    const keys = await cleanup.keys(`${namespace}:*`);
    if (keys.length > 0) await cleanup.del(...keys);
    await cleanup.quit();
  });

  it('shows every queue of the catalogue on Bull Board, the scheduler one included', async () => {
    const admin = await startAdmin({
      config,
      logger: createLogger('error', { silent: true }),
      registry: new Registry(),
      readiness: new Readiness(),
    });
    try {
      const answer = await request(`http://127.0.0.1:${admin.port}`)
        .get('/api/queues')
        .auth('admin', 'admin-pw-123')
        .expect(200);
      const body = answer.body as { queues: { name: string }[] };
      expect(body.queues.map((queue) => queue.name).sort()).toEqual(
        Object.values(QueueName).sort(),
      );
      expect(Object.values(QueueName)).toContain('scheduler');
    } finally {
      await admin.stop();
    }
  });
});
