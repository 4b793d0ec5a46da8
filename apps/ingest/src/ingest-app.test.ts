import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import request from 'supertest';
import { SyncQueue, createLogger, createRedis } from '@dovewarden/shared';
import { createIngestApp } from './ingest-app';
import { IngestMetrics } from './ingest-metrics';

const logger = createLogger('error', { silent: true });
const target = {
  host: '127.0.0.1',
  port: 6379,
  username: undefined,
  password: undefined,
  db: 0,
  tls: false,
};

const APPEND = {
  event: 'imap_command_finished',
  fields: {
    user: 'user1@example.com',
    cmd_name: 'APPEND',
    tagged_reply_state: 'OK',
    mailbox: 'INBOX',
  },
};

describe('POST /events', () => {
  const namespace = `dwtest-ingest-${randomBytes(4).toString('hex')}`;
  const redis = createRedis(target, 'producer', 'test');
  const syncQueue = new SyncQueue(redis, namespace);
  const registry = new Registry();
  const app = createIngestApp({
    syncQueue,
    redisReady: () => redis.status === 'ready',
    logger,
    metrics: new IngestMetrics(registry),
    bodyLimitBytes: 1024,
  });

  beforeAll(() => syncQueue.waitUntilReady());
  afterAll(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    await redis.quit();
  });

  it('answers 202 and queues one job per user, however many events', async () => {
    const first = await request(app).post('/events').send(APPEND).expect(202);
    expect(first.body).toEqual({ queued: 'user1@example.com' });
    await request(app).post('/events').send(APPEND).expect(202);
    await request(app)
      .post('/events')
      .send({ event: 'mail_delivery_finished', fields: { user: 'user1@example.com' } })
      .expect(202);
    const jobs = await syncQueue.queue.getJobs(['waiting', 'prioritized']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].data).toMatchObject({
      user: 'user1@example.com',
      reason: { kind: 'imap', command: 'APPEND', mailbox: 'INBOX' },
    });
    const metrics = await registry.getSingleMetricAsString('dovewarden_events_received_total');
    expect(metrics).toContain('event="imap_command_finished",outcome="queued"} 2');
    expect(metrics).toContain('event="mail_delivery_finished",outcome="queued"} 1');
  });

  it('answers 204 for events that change nothing', async () => {
    await request(app)
      .post('/events')
      .send({ ...APPEND, fields: { ...APPEND.fields, cmd_name: 'SELECT' } })
      .expect(204);
    await request(app)
      .post('/events')
      .send({ ...APPEND, fields: { ...APPEND.fields, tagged_reply_state: 'NO' } })
      .expect(204);
  });

  it.each([
    ['malformed JSON', '{"event":', 'malformed JSON'],
    ['a non-object body', '[1,2]', 'body is not a JSON object'],
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
  ])('answers 400 for %s, saying why in one JSON line', async (_label, body, why) => {
    const res = await request(app)
      .post('/events')
      .set('Content-Type', 'application/json')
      .send(body)
      .expect(400);
    expect(res.body).toEqual({ error: why });
    expect(res.text).not.toContain('\n');
  });

  it('answers 413 over the body limit and 415 for other content types', async () => {
    await request(app)
      .post('/events')
      .send({ ...APPEND, padding: 'x'.repeat(2000) })
      .expect(413);
    await request(app).post('/events').set('Content-Type', 'text/plain').send('hello').expect(415);
  });
});

describe('POST /events with Redis down', () => {
  it('answers 503 with Retry-After at once', async () => {
    // Nothing listens on port 1: the producer never connects.
    const redis = createRedis({ ...target, port: 1 }, 'producer', 'test-down');
    redis.on('error', () => undefined);
    const syncQueue = new SyncQueue(redis, 'dwtest-down');
    syncQueue.queue.on('error', () => undefined);
    const app = createIngestApp({
      syncQueue,
      redisReady: () => redis.status === 'ready',
      logger,
      metrics: new IngestMetrics(new Registry()),
    });
    const started = Date.now();
    const res = await request(app).post('/events').send(APPEND).expect(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(Date.now() - started).toBeLessThan(500);
    await syncQueue.close().catch(() => undefined);
    redis.disconnect();
  });
});
