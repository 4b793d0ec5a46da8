import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { Readiness, buildConfig, createLogger } from '@dovewarden/shared';
import { startAdmin } from './start-admin';

describe('admin', () => {
  it('serves Bull Board on loopback, read-only, listing the replication queue', async () => {
    const config = buildConfig(
      {
        'redis-mode': 'external',
        'redis-addr': '127.0.0.1:6379',
        namespace: `dwtest-admin-${randomBytes(4).toString('hex')}`,
        'admin-addr': ':0',
      },
      'admin',
    );
    const admin = await startAdmin({
      config,
      logger: createLogger('error', { silent: true }),
      registry: new Registry(),
      readiness: new Readiness(),
    });
    try {
      const page = await fetch(`http://127.0.0.1:${admin.port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const api = await fetch(`http://127.0.0.1:${admin.port}/api/queues?activeQueue=replication`);
      const body = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
      expect(body.queues.map((queue) => [queue.name, queue.readOnlyMode])).toEqual([
        ['replication', true],
      ]);
      const retry = await fetch(
        `http://127.0.0.1:${admin.port}/api/queues/replication/retry/failed`,
        { method: 'PUT' },
      );
      expect(retry.status).toBeGreaterThanOrEqual(400);
    } finally {
      await admin.stop();
    }
  });
});
