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
  const recorders: OutageRecorder[] = [];
  const replica = (): OutageRecorder => {
    const recorder = new OutageRecorder(
      redis,
      new ReplicationState(redis, 'ns').outage,
      createLogger('error', { silent: true }),
      () => clock,
    );
    recorders.push(recorder);
    return recorder;
  };
  // ioredis reconnects within its configured 250 ms (fail-fast); the rest is a hang guard in
  // bare node process starts on this machine.
  const reconnected = (): Promise<number> =>
    waitUntil(
      () => redis.status === 'ready',
      configuredPlus(250, processStartReferenceSync(), 100),
      'the reconnect',
      20,
    );

  beforeEach(async () => {
    server = await PrivateRedis.start({ appendOnly: false });
    redis = createRedis(server.target, 'fail-fast', 'outage-test');
    redis.on('error', () => undefined);
    clock = 1_000_000;
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  });
  afterEach(async () => {
    for (const recorder of recorders.splice(0)) await recorder.stop().catch(() => undefined);
    redis.disconnect();
    await server.stop();
  });

  it('asks for no catch-up when Dovecot retried every refused event (a short blip)', async () => {
    const ingest = replica();
    await server.kill();
    ingest.refused(event(1));
    clock += 300;
    ingest.refused(event(2));
    ingest.refused(event(1)); // a retry still refused: the first refusal counts
    await ingest.check(); // Redis down: kept here
    await server.restart();
    await reconnected();
    await ingest.check(); // shared
    expect(await redis.zcard('ns:refused-events')).toBe(2);
    ingest.queued(event(1));
    ingest.queued(event(2));
    clock += RETRY_WINDOW_MS * 2;
    await waitUntil(
      async () => (await redis.scard('ns:retried-events')) === 2,
      configuredPlus(0, processStartReferenceSync(), 20),
      'the retries to be noted',
      10,
    );
    await ingest.check();
    expect(await redis.get('ns:outage-since')).toBeNull();
    expect(await redis.zcard('ns:refused-events')).toBe(0);
  });

  it('counts a retry that another ingest replica queued', async () => {
    const first = replica();
    const second = replica();
    first.refused(event(1));
    await first.check(); // shared, with the watch on
    await second.check(); // sees the watch
    second.queued(event(1));
    await waitUntil(
      async () => (await redis.scard('ns:retried-events')) === 1,
      configuredPlus(0, processStartReferenceSync(), 20),
      'the retry to be noted',
      10,
    );
    clock += RETRY_WINDOW_MS + 1;
    await second.check();
    expect(await redis.get('ns:outage-since')).toBeNull();
  });

  it('records the earliest refusal that was never retried', async () => {
    await redis.set('ns:outage-since', '5000000');
    const ingest = replica();
    ingest.refused(event(1));
    clock += 1000;
    ingest.refused(event(2));
    clock += 1000;
    ingest.refused(event(3));
    await ingest.check();
    ingest.queued(event(1)); // retried in time
    await waitUntil(
      async () => (await redis.scard('ns:retried-events')) === 1,
      configuredPlus(0, processStartReferenceSync(), 20),
      'the retry to be noted',
      10,
    );
    // Within the retry window nothing is lost yet.
    await ingest.check();
    expect(await redis.get('ns:outage-since')).toBe('5000000');
    clock += RETRY_WINDOW_MS;
    await ingest.check();
    // Events 2 and 3 were never retried: lost since event 2's refusal.
    expect(await redis.get('ns:outage-since')).toBe('1001000');
    // An older outage already recorded is kept.
    await redis.set('ns:outage-since', '500');
    ingest.refused(event(4));
    await ingest.check();
    clock += RETRY_WINDOW_MS + 1;
    await ingest.check();
    expect(await redis.get('ns:outage-since')).toBe('500');
  });

  it('leaves what it refused in Redis when it stops, for a replica or the next start to settle', async () => {
    const stopping = replica();
    await server.kill();
    stopping.refused(event(1));
    await server.restart();
    await reconnected();
    await stopping.stop();
    const next = replica();
    clock += RETRY_WINDOW_MS + 1;
    await next.check();
    expect(await redis.get('ns:outage-since')).toBe('1000000');
  });
});
