import { ReplicationState, createLogger, createRedis } from '@dovewarden/shared';
import {
  PrivateRedis,
  configuredPlus,
  describeIf,
  missingRedisServer,
  processStartReferenceSync,
  waitUntil,
} from '@dovewarden/testkit';
import { OutageRecorder } from './outage-recorder';

describeIf('the OutageRecorder tests', missingRedisServer())('OutageRecorder', () => {
  it('writes the earliest outage start once Redis is back', async () => {
    const server = await PrivateRedis.start({ appendOnly: false });
    const redis = createRedis(server.target, 'fail-fast', 'outage-test');
    redis.on('error', () => undefined);
    let clock = 1_000_000;
    const recorder = new OutageRecorder(
      redis,
      new ReplicationState(redis, 'ns'),
      createLogger('error', { silent: true }),
      () => clock,
    );
    try {
      await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
      await redis.set('ns:outage-since', '5000000');
      await server.kill();
      recorder.started();
      clock += 1000;
      recorder.started(); // the same outage: the first start counts
      await server.restart();
      // ioredis reconnects within its configured 250 ms (a producer), then one SET; the rest
      // is a hang guard in bare node process starts on this machine.
      const back = configuredPlus(250, processStartReferenceSync(), 100);
      await waitUntil(
        async () => (await redis.get('ns:outage-since').catch(() => null)) === '1000000',
        back,
        'the outage to be recorded',
        50,
      );
      // An older outage already recorded by another replica is kept.
      await redis.set('ns:outage-since', '500');
      recorder.started();
      await recorder.flush();
      expect(await redis.get('ns:outage-since')).toBe('500');
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
