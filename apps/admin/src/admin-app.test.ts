import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { OperatorActions, ReplicationState, SyncPriority, SyncQueue } from '@dovewarden/shared';
import { createAdminApp } from './admin-app';

const DEST = 'tcp:replica:1';
const auth = { user: 'ops', password: 'admin-pw-123' };

describe('admin app', () => {
  const namespace = `dwtest-admin-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const state = new ReplicationState(redis, namespace);
  const { keys } = state;
  const syncQueue = new SyncQueue(redis, namespace);
  const actions = new OperatorActions(state, syncQueue, [DEST]);
  const app = (readOnly = false) =>
    createAdminApp({ queues: [syncQueue.queue], actions, thresholdMs: 3_600_000, auth, readOnly });

  afterAll(async () => {
    await syncQueue.queue.obliterate({ force: true });
    await syncQueue.close();
    const found = await redis.keys(`${namespace}:*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });

  it('answers 401 without the password and 200 with it, for the board and the API', async () => {
    await request(app()).get('/api/status').expect(401);
    await request(app()).get('/api/status').auth('ops', 'wrong').expect(401);
    await request(app()).get('/').expect(401);
    await request(app()).get('/api/status').auth(auth.user, auth.password).expect(200);
    const page = await request(app()).get('/').auth(auth.user, auth.password).expect(200);
    expect(page.text).toContain('<html');
  });

  it('GET /api/users/:user shows last success, failure, queue state and each destination', async () => {
    await redis.zadd(keys.lastSuccess, 1000, 'u1@example.com');
    await redis.zadd(keys.lastSuccessAt(DEST), 1000, 'u1@example.com');
    await redis.zadd(keys.lastFullSyncAt(DEST), 900, 'u1@example.com');
    await redis.set(keys.dsyncState(DEST, 'u1@example.com'), 'state');
    await redis.hset(keys.userStatus('u1@example.com'), {
      lastFailureAt: 800,
      lastFailureCode: 'DOVEADM_TEMPORARY_FAILURE',
      lastFailureExitCode: 75,
      lastFailureMessage: 'down',
    });
    await syncQueue.enqueue(
      { user: 'u1@example.com', reason: { kind: 'manual' }, requestedAt: 1 },
      SyncPriority.Normal,
    );
    const res = await request(app())
      .get('/api/users/u1%40example.com')
      .auth(auth.user, auth.password)
      .expect(200);
    expect(res.body).toMatchObject({
      user: 'u1@example.com',
      lastSuccess: 1000,
      lastFullSync: 900,
      lastFailure: { at: 800, exitCode: 75, code: 'DOVEADM_TEMPORARY_FAILURE' },
      queue: { state: 'prioritized', priority: SyncPriority.Normal },
      destinations: [{ destination: DEST, lastSuccess: 1000, lastFullSync: 900, hasState: true }],
    });
  });

  it('POST /api/users/:user/replicate queues a (full) sync; GET /api/status and /api/syncs count', async () => {
    const res = await request(app())
      .post('/api/users/new-user/replicate')
      .auth(auth.user, auth.password)
      .send({ full: true })
      .expect(202);
    expect(res.body).toEqual({ queued: 'new-user', full: true });
    const user = await request(app())
      .get('/api/users/new-user')
      .auth(auth.user, auth.password)
      .expect(200);
    expect((user.body as { queue: unknown }).queue).toMatchObject({ priority: SyncPriority.High });
    const overall = await request(app())
      .get('/api/status')
      .auth(auth.user, auth.password)
      .expect(200);
    expect(overall.body).toMatchObject({ queued: 2, active: 0, usersKnown: 1 });
    const syncs = await request(app()).get('/api/syncs').auth(auth.user, auth.password).expect(200);
    expect(syncs.body).toEqual({ syncs: [] });
    await request(app())
      .post('/api/users/x/replicate')
      .auth(auth.user, auth.password)
      .send({ priority: 'urgent' })
      .expect(400);
  });

  it('refuses changes in read-only mode (405) and from other sites (403)', async () => {
    await request(app(true))
      .post('/api/users/u/replicate')
      .auth(auth.user, auth.password)
      .send({})
      .expect(405);
    await request(app(true)).get('/api/status').auth(auth.user, auth.password).expect(200);
    await request(app())
      .post('/api/users/u/replicate')
      .auth(auth.user, auth.password)
      .set('Origin', 'https://evil.example')
      .send({})
      .expect(403);
  });

  it('answers bad bodies with a 4xx and a fixed message, never a 500 or a stack', async () => {
    const replicate = () =>
      request(app())
        .post('/api/users/u2/replicate')
        .auth(auth.user, auth.password)
        .set('content-type', 'application/json');
    const tooLarge = await replicate()
      .send(`{"full":"${'x'.repeat(20_000)}"}`)
      .expect(413);
    expect(tooLarge.body).toEqual({ error: 'request body too large (16 KiB at most)' });
    const malformed = await replicate().send('{"full": tru').expect(400);
    expect(malformed.body).toEqual({ error: 'malformed JSON' });
    const nested = '['.repeat(7000) + ']'.repeat(7000);
    await replicate().send(nested).expect(400);
    await replicate().send('[]').expect(400);
    await replicate().send('"full"').expect(400);
    await replicate().set('content-encoding', 'x-unknown').send('{}').expect(415);
  });
});
