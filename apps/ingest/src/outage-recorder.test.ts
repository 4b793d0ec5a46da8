import { ReplicationState, createLogger, createRedis } from '@dovewarden/shared';
import {
  PrivateRedis,
  configuredPlus,
  describeIf,
  missingRedisServer,
  processStartReferenceSync,
  waitUntil,
} from '@dovewarden/testkit';
import { OutageRecorder, RETRY_WINDOW_MS } from './outage-recorder';

const event = (n: number): string =>
  JSON.stringify({ event: 'imap_command_finished', fields: { user: `u${n}`, cmd_tag: `A${n}` } });

describeIf('the OutageRecorder tests', missingRedisServer())('OutageRecorder', () => {
  let server: PrivateRedis;
  let redis: ReturnType<typeof createRedis>;
  let clock = 1_000_000;
  let recorder: OutageRecorder;

  beforeEach(async () => {
    server = await PrivateRedis.start({ appendOnly: false });
    redis = createRedis(server.target, 'fail-fast', 'outage-test');
    redis.on('error', () => undefined);
    clock = 1_000_000;
    recorder = new OutageRecorder(
      redis,
      new ReplicationState(redis, 'ns'),
      createLogger('error', { silent: true }),
      () => clock,
    );
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  });
  afterEach(async () => {
    await recorder.stop().catch(() => undefined);
    redis.disconnect();
    await server.stop();
  });

  it('asks for no catch-up when Dovecot retried every refused event (a short blip)', async () => {
    await server.kill();
    recorder.refused(event(1));
    clock += 300;
    recorder.refused(event(2));
    recorder.refused(event(1)); // a retry still refused: the first refusal counts
    await server.restart();
    await waitUntil(
      () => redis.status === 'ready',
      configuredPlus(250, processStartReferenceSync(), 100),
      'reconnect',
      20,
    );
    recorder.queued(event(1));
    recorder.queued(event(2));
    clock += RETRY_WINDOW_MS * 2;
    await recorder.check();
    expect(await redis.get('ns:outage-since')).toBeNull();
  });

  it('records the earliest refusal that was never retried, once Redis is back', async () => {
    await redis.set('ns:outage-since', '5000000');
    await server.kill();
    recorder.refused(event(1));
    clock += 1000;
    recorder.refused(event(2));
    clock += 1000;
    recorder.refused(event(3));
    // Within the retry window nothing is lost yet.
    await recorder.check();
    await server.restart();
    await waitUntil(
      () => redis.status === 'ready',
      configuredPlus(250, processStartReferenceSync(), 100),
      'reconnect',
      20,
    );
    recorder.queued(event(1)); // retried in time
    clock += RETRY_WINDOW_MS;
    await recorder.check();
    // Events 2 and 3 were never retried: lost since event 2's refusal.
    expect(await redis.get('ns:outage-since')).toBe('1001000');
    // An older outage already recorded by another replica is kept.
    await redis.set('ns:outage-since', '500');
    recorder.refused(event(4));
    clock += RETRY_WINDOW_MS + 1;
    await recorder.check();
    expect(await redis.get('ns:outage-since')).toBe('500');
  });

  it('writes a loss known while Redis is down as soon as Redis answers again', async () => {
    await server.kill();
    recorder.refused(event(1));
    clock += RETRY_WINDOW_MS + 1;
    await recorder.check(); // lost, but Redis is down: kept for later
    await server.restart();
    // ioredis reconnects within its configured 250 ms (fail-fast), then one EVAL; the rest is
    // a hang guard in bare node process starts on this machine.
    await waitUntil(
      async () => (await redis.get('ns:outage-since').catch(() => null)) === '1000000',
      configuredPlus(250, processStartReferenceSync(), 100),
      'the outage to be recorded',
      50,
    );
  });

  it('counts refusals still waiting for their retry as lost when ingest stops', async () => {
    recorder.refused(event(1));
    clock += 100;
    await recorder.stop();
    expect(await redis.get('ns:outage-since')).toBe('1000000');
  });
});
