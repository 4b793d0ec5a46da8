import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  type EnqueueResult,
  type RawOptions,
  SyncPriority,
  ReplicaServiceLedger,
  StateKeys,
  SyncQueue,
  type SyncUserJobData,
  createLogger,
  createRedis,
} from '@dovewarden/shared';
import {
  PrivateRedis,
  SHARED_REDIS,
  calibrate,
  expectWithin,
  itIf,
  missingRedisServer,
  relativeBound,
  sleep,
} from '@dovewarden/testkit';
import { type IngestDeps, createIngestHandler } from './ingest-app';
import { IngestMetrics } from './ingest-metrics';
import { ingestSettings } from './__tests__/settings';

const logger = createLogger('error', { silent: true });

const APPEND = {
  event: 'imap_command_finished',
  end_time: new Date().toISOString(),
  fields: {
    user: 'user1@example.com',
    cmd_name: 'APPEND',
    tagged_reply_state: 'OK',
    mailbox: 'INBOX',
  },
};

/** For handlers whose tests post no replica events. */
const NO_REPLICA_EVENTS = { noteServed: (): Promise<void> => Promise.resolve() };

/** Waits for the producer's connection: before it is up, ingest rightly answers 503. */
async function setup(options: RawOptions = {}, extra: Partial<IngestDeps> = {}) {
  const namespace = `dwtest-ingest-${randomBytes(4).toString('hex')}`;
  const redis = createRedis(SHARED_REDIS, 'fail-fast', 'test');
  const syncQueue = new SyncQueue(redis, namespace);
  await syncQueue.waitUntilReady();
  while (redis.status !== 'ready') await sleep(10);
  const registry = new Registry();
  const keys = new StateKeys(namespace);
  const replicaService = new ReplicaServiceLedger(redis, keys);
  const handler = createIngestHandler({
    syncQueue,
    replicaService,
    redisReady: () => redis.status === 'ready',
    logger,
    metrics: new IngestMetrics(registry),
    settings: ingestSettings(options),
    ...extra,
  });
  return {
    handler,
    syncQueue,
    registry,
    replicaService,
    async pending(): Promise<Job<SyncUserJobData>[]> {
      return (await syncQueue.queue.getJobs(
        ['waiting', 'prioritized', 'delayed'],
        0,
        -1,
      )) as Job<SyncUserJobData>[];
    },
    async teardown() {
      await redis.del(keys.servedByReplica);
      await syncQueue.queue.obliterate({ force: true });
      await syncQueue.close();
      await redis.quit();
    },
  };
}

describe('POST /events contract', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    t = await setup({ 'ingest-body-limit': '2KiB' });
  });
  afterAll(() => t.teardown());

  it('202: queues one job per user, however many events, with the lag start from end_time', async () => {
    const first = await request(t.handler).post('/events').send(APPEND).expect(202);
    expect(first.body).toEqual({ queued: 'user1@example.com' });
    await request(t.handler).post('/events').send(APPEND).expect(202);
    await request(t.handler)
      .post('/events')
      .send({ event: 'mail_delivery_finished', fields: { user: 'user1@example.com' } })
      .expect(202);
    const jobs = await t.pending();
    expect(jobs).toHaveLength(1);
    expect(jobs[0].data).toMatchObject({
      user: 'user1@example.com',
      reason: { kind: 'imap', command: 'APPEND', mailbox: 'INBOX' },
      requestedAt: Date.parse(APPEND.end_time),
    });
    const metrics = await t.registry.metrics();
    expect(metrics).toContain('dovewarden_ingest_events_total{outcome="accepted",reason="imap"} 2');
    expect(metrics).toContain('dovewarden_ingest_jobs_merged_total 2');
    // The Go dovewarden's names, as its dashboards read them.
    expect(metrics).toContain('dovewarden_events_received_total 3');
    expect(metrics).toContain('dovewarden_events_filtered_total 3');
    expect(metrics).toContain('dovewarden_events_enqueued_total 3');
    expect(metrics).toContain('dovewarden_enqueue_errors_total 0');
  });

  it('202 for a change on the replica (?server=replica): remembered for backup, never queued; 400 for an unknown server', async () => {
    const before = (await t.pending()).length;
    const onB = { ...APPEND, fields: { ...APPEND.fields, user: 'served@example.com' } };
    const res = await request(t.handler).post('/events?server=replica').send(onB).expect(202);
    expect(res.body).toEqual({ recorded: 'served@example.com' });
    const since = await t.replicaService.servedSince('served@example.com');
    expect(since).toBe(Date.parse(APPEND.end_time));
    // A later change keeps the first one's time: B served the user since then.
    const later = {
      ...onB,
      end_time: new Date(Date.parse(APPEND.end_time) + 60_000).toISOString(),
    };
    await request(t.handler).post('/events?server=replica').send(later).expect(202);
    expect(await t.replicaService.servedSince('served@example.com')).toBe(since);
    // A read on B changes nothing there, so nothing is remembered.
    const read = {
      ...APPEND,
      fields: { ...APPEND.fields, user: 'reader@example.com', cmd_name: 'SELECT' },
    };
    await request(t.handler).post('/events?server=replica').send(read).expect(204);
    expect(await t.replicaService.servedSince('reader@example.com')).toBeUndefined();
    // A's own events are unchanged by the parameter's presence.
    await request(t.handler).post('/events?server=source').send(APPEND).expect(202);
    await request(t.handler).post('/events?server=b').send(APPEND).expect(400);
    expect((await t.pending()).length).toBeLessThanOrEqual(before + 1);
    expect((await t.pending()).some((job) => job.data.user === 'served@example.com')).toBe(false);
    expect(await t.registry.metrics()).toContain(
      'dovewarden_ingest_events_total{outcome="accepted",reason="replica"} 2',
    );
  });

  it('204 for the event of a delivery whose mail its sync-wait put on B; 202 otherwise', async () => {
    const asked: string[] = [];
    const waited = await setup(
      {},
      {
        deliveryOnReplica: (session, user) => {
          asked.push(`${session} ${user}`);
          return Promise.resolve(session === 'covered:R2' && user === 'user9');
        },
      },
    );
    try {
      const delivery = (session: string, user = 'user9') => ({
        event: 'mail_delivery_finished',
        fields: { user, session },
      });
      await request(waited.handler).post('/events').send(delivery('covered:R2')).expect(204);
      expect(await waited.pending()).toHaveLength(0);
      // A wait that timed out, another user, or an IMAP change: the sync is asked for.
      await request(waited.handler).post('/events').send(delivery('timed-out')).expect(202);
      await request(waited.handler)
        .post('/events')
        .send(delivery('covered:R2', 'user10'))
        .expect(202);
      const append = { ...APPEND, fields: { ...APPEND.fields, session: 'covered:R2' } };
      await request(waited.handler).post('/events').send(append).expect(202);
      expect(asked).toEqual(['covered:R2 user9', 'timed-out user9', 'covered:R2 user10']);
      expect(await waited.registry.metrics()).toContain(
        'dovewarden_ingest_events_total{outcome="filtered",reason="delivery-on-replica"} 1',
      );
    } finally {
      await waited.teardown();
    }
  });

  it('204: events that change nothing', async () => {
    const select = { ...APPEND, fields: { ...APPEND.fields, cmd_name: 'SELECT' } };
    await request(t.handler).post('/events').send(select).expect(204);
    await request(t.handler)
      .post('/events')
      .send({ ...APPEND, fields: { ...APPEND.fields, tagged_reply_state: 'NO' } })
      .expect(204);
    await request(t.handler)
      .post('/events')
      .send({ event: 'auth_request_finished', fields: { user: 'x' } })
      .expect(204);
  });

  it.each([
    ['malformed JSON', '{"event":', 'malformed JSON'],
    ['a non-object body', '[1,2]', 'body is not a JSON object'],
    ['JSON null', 'null', 'body is not a JSON object'],
    [
      'a missing user',
      JSON.stringify({ event: 'mail_delivery_finished', fields: {} }),
      'missing or empty "fields.user"',
    ],
    [
      'an empty user',
      JSON.stringify({ ...APPEND, fields: { ...APPEND.fields, user: '' } }),
      'missing or empty "fields.user"',
    ],
  ])('400: %s, saying why in one JSON line', async (_label, body, why) => {
    const res = await request(t.handler)
      .post('/events')
      .set('Content-Type', 'application/json')
      .send(body)
      .expect(400);
    expect(res.body).toEqual({ error: why });
    expect(res.text).not.toContain('\n');
  });

  it('413 over the configured body limit, 415 for other content types or encodings', async () => {
    await request(t.handler)
      .post('/events')
      .send({ ...APPEND, padding: 'x'.repeat(3000) })
      .expect(413);
    await request(t.handler)
      .post('/events')
      .set('Content-Type', 'text/plain')
      .send('hello')
      .expect(415);
    await request(t.handler)
      .post('/events')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .send('{}')
      .expect(415);
  });

  it('404 elsewhere, 405 for other methods', async () => {
    await request(t.handler).post('/other').send(APPEND).expect(404);
    const res = await request(t.handler).get('/events').expect(405);
    expect(res.headers['allow']).toBe('POST');
  });

  it('raises the priority of a waiting background sync when a change arrives', async () => {
    await t.syncQueue.enqueueMany(
      [{ user: 'backlogged', reason: { kind: 'background' }, requestedAt: 1 }],
      SyncPriority.Low,
    );
    const before = (await t.pending()).find((job) => job.data.user === 'backlogged')!;
    expect(before.priority).toBe(SyncPriority.Low);
    await request(t.handler)
      .post('/events')
      .send({ ...APPEND, fields: { ...APPEND.fields, user: 'backlogged' } })
      .expect(202);
    const after = (await t.pending()).filter((job) => job.data.user === 'backlogged');
    expect(after).toHaveLength(1);
    expect(after[0].priority).toBe(SyncPriority.High);
    expect(await t.registry.metrics()).toContain('dovewarden_ingest_priority_raised_total 1');
  });

  it('1,000 events for one user, with nothing consuming, leave exactly one pending job', async () => {
    const body = { ...APPEND, fields: { ...APPEND.fields, user: 'burst@example.com' } };
    const answers = await Promise.all(
      Array.from({ length: 1000 }, () =>
        request(t.handler)
          .post('/events')
          .send(body)
          .then((res) => res.status),
      ),
    );
    expect(new Set(answers)).toEqual(new Set([202]));
    const jobs = (await t.pending()).filter((job) => job.data.user === 'burst@example.com');
    expect(jobs).toHaveLength(1);
  });
});

describe('POST /events auth and allow-list', () => {
  it('401 when auth is configured and missing or wrong; 202 with the right password', async () => {
    const t = await setup({ 'ingest-user': 'dovecot', 'ingest-password': 's3cret-pw' });
    try {
      const missing = await request(t.handler).post('/events').send(APPEND).expect(401);
      expect(missing.headers['www-authenticate']).toContain('Basic');
      // A refusal reads no body and closes the connection (refuseAndClose).
      expect(missing.headers['connection']).toBe('close');
      const wrongType = await request(t.handler)
        .post('/events')
        .auth('dovecot', 's3cret-pw')
        .set('Content-Type', 'text/plain')
        .send('x')
        .expect(415);
      expect(wrongType.headers['connection']).toBe('close');
      await request(t.handler).post('/events').auth('dovecot', 'wrong').send(APPEND).expect(401);
      await request(t.handler).post('/events').auth('other', 's3cret-pw').send(APPEND).expect(401);
      await request(t.handler)
        .post('/events')
        .set('Authorization', 'Bearer x')
        .send(APPEND)
        .expect(401);
      await request(t.handler)
        .post('/events')
        .auth('dovecot', 's3cret-pw')
        .send(APPEND)
        .expect(202);
    } finally {
      await t.teardown();
    }
  });

  it('403 for sources outside the allow-list', async () => {
    const denied = await setup({ 'ingest-allow': '10.0.0.0/8' });
    const allowed = await setup({ 'ingest-allow': '10.0.0.0/8, 127.0.0.1' });
    try {
      await request(denied.handler).post('/events').send(APPEND).expect(403);
      await request(allowed.handler).post('/events').send(APPEND).expect(202);
    } finally {
      await denied.teardown();
      await allowed.teardown();
    }
  });
});

describe('POST /events when Redis fails', () => {
  // Fast means within 60 round trips of an event that ingest filters out (204, no Redis),
  // measured here with Redis down: about the old 100 ms on a quiet machine. Waiting for a
  // Redis command timeout (2 s) or a reconnect (100 to 250 ms) instead fails.
  itIf('the Redis-down test', missingRedisServer())(
    '503 with Retry-After, about as fast as a 204, when Redis is stopped',
    async () => {
      const server = await PrivateRedis.start({ appendOnly: false });
      const redis = createRedis(server.target, 'fail-fast', 'test-down');
      redis.on('error', () => undefined);
      const syncQueue = new SyncQueue(redis, 'dwtest-down');
      syncQueue.queue.on('error', () => undefined);
      const registry = new Registry();
      const handler = createIngestHandler({
        syncQueue,
        replicaService: NO_REPLICA_EVENTS,
        redisReady: () => redis.status === 'ready',
        logger,
        metrics: new IngestMetrics(registry),
        settings: ingestSettings(),
      });
      try {
        await syncQueue.waitUntilReady();
        await request(handler).post('/events').send(APPEND).expect(202);
        await server.kill();
        const select = { ...APPEND, fields: { ...APPEND.fields, cmd_name: 'SELECT' } };
        const filtered = await calibrate('a filtered event (204) through supertest', async () => {
          await request(handler).post('/events').send(select).expect(204);
        });
        const fast = relativeBound(filtered, 60);
        for (let i = 0; i < 5; i += 1) {
          const started = performance.now();
          const res = await request(handler).post('/events').send(APPEND);
          const took = performance.now() - started;
          expect(res.status).toBe(503);
          expect(res.headers['retry-after']).toBe('1');
          expectWithin(took, fast, `503 number ${i + 1}`);
        }
        // The Go dovewarden's counters see the same: 5 not queued, for Redis.
        const metrics = await registry.metrics();
        expect(metrics).toContain('dovewarden_enqueue_errors_total 5');
        expect(metrics).toContain('dovewarden_redis_errors_total 5');
        expect(metrics).toContain('dovewarden_events_enqueued_total 1');
      } finally {
        await syncQueue.close().catch(() => undefined);
        redis.disconnect();
        await server.stop();
      }
    },
  );

  it('500 for any other enqueue failure', async () => {
    const handler = createIngestHandler({
      syncQueue: {
        enqueue: (): Promise<EnqueueResult> => Promise.reject(new Error('Missing lock for job')),
      },
      replicaService: NO_REPLICA_EVENTS,
      redisReady: () => true,
      logger,
      metrics: new IngestMetrics(new Registry()),
      settings: ingestSettings(),
    });
    const res = await request(handler).post('/events').send(APPEND).expect(500);
    expect(res.body).toEqual({ error: 'could not queue the sync' });
  });
});
