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

  it('GET /api/users/failed and /api/users/stale list users a page at a time', async () => {
    const now = Date.now();
    for (let i = 0; i < 5; i += 1) await redis.zadd(keys.failedUsers, 100 + i, `failed-${i}`);
    // Two stale (older than the hour the app is given), one fresh.
    await redis.zadd(keys.lastSuccess, now - 7_200_000, 'stale-a');
    await redis.zadd(keys.lastSuccess, now - 3_700_000, 'stale-b');
    await redis.zadd(keys.lastSuccess, now - 1_000, 'fresh');
    const get = (path: string) => request(app()).get(path).auth(auth.user, auth.password);
    const first = await get('/api/users/failed?limit=2').expect(200);
    expect(first.body).toEqual({
      users: [
        { user: 'failed-0', at: 100 },
        { user: 'failed-1', at: 101 },
      ],
      total: 5,
      offset: 0,
      limit: 2,
      next: 2,
    });
    const last = await get('/api/users/failed?offset=4&limit=2').expect(200);
    expect(last.body).toMatchObject({ users: [{ user: 'failed-4', at: 104 }], next: null });
    const stale = await get('/api/users/stale').expect(200);
    const staleBody = stale.body as { users: { user: string }[]; total: number };
    // u1@example.com (last success at 1000, from the test above) is the most stale of all.
    expect(staleBody.users.map((u) => u.user)).toEqual(['u1@example.com', 'stale-a', 'stale-b']);
    expect(staleBody.total).toBe(3);
    await get('/api/users/failed?limit=0').expect(400);
    await get('/api/users/stale?offset=-1').expect(400);
    await get('/api/users/failed?limit=5000').expect(400);
  });

  it('DELETE /api/users/:user forgets the user: pending sync, states and marks', async () => {
    await redis.zadd(keys.lastSuccess, 1000, 'gone@example.com');
    await redis.set(keys.dsyncState(DEST, 'gone@example.com'), 'state');
    await syncQueue.enqueue(
      { user: 'gone@example.com', reason: { kind: 'manual' }, requestedAt: 1 },
      SyncPriority.Normal,
    );
    const res = await request(app())
      .delete('/api/users/gone%40example.com')
      .auth(auth.user, auth.password)
      .expect(200);
    expect(res.body).toEqual({ removed: 'gone@example.com', removedJob: true });
    expect(await redis.zscore(keys.lastSuccess, 'gone@example.com')).toBeNull();
    expect(await redis.exists(keys.dsyncState(DEST, 'gone@example.com'))).toBe(0);
    const after = await request(app())
      .get('/api/users/gone%40example.com')
      .auth(auth.user, auth.password)
      .expect(200);
    expect(after.body).toMatchObject({ lastSuccess: null, queue: null });
    await request(app(true))
      .delete('/api/users/gone%40example.com')
      .auth(auth.user, auth.password)
      .expect(405);
  });

  it('describes every API route in GET /api/openapi.json', async () => {
    const res = await request(app())
      .get('/api/openapi.json')
      .auth(auth.user, auth.password)
      .expect(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // The routes the app really has, read from Express's router.
    interface Layer {
      route?: { path: string; methods: Record<string, boolean> };
      handle?: { stack?: Layer[] };
    }
    const root = (app() as unknown as { router: { stack: Layer[] } }).router.stack;
    const routes = root
      .flatMap((layer) => layer.handle?.stack ?? [])
      .flatMap((layer) =>
        layer.route === undefined
          ? []
          : Object.keys(layer.route.methods).map(
              (method) =>
                `${method.toUpperCase()} ${layer.route?.path.replace(/:(\w+)/g, '{$1}') ?? ''}`,
            ),
      );
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(described.sort()).toEqual(routes.sort());
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

  it('without a password takes only loopback Hosts: no DNS rebinding', async () => {
    const open = createAdminApp({
      queues: [syncQueue.queue],
      actions,
      thresholdMs: 3_600_000,
      auth: undefined,
      readOnly: false,
    });
    for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000'])
      await request(open).get('/api/status').set('Host', host).expect(200);
    // A page at rebind.example, resolved to 127.0.0.1: its Host and Origin agree, and still no.
    const refused = await request(open)
      .post('/api/users/u/replicate')
      .set('Host', 'rebind.example:3000')
      .set('Origin', 'http://rebind.example:3000')
      .send({})
      .expect(403);
    expect(refused.body).toEqual({
      error: 'without an admin password, only localhost, 127.0.0.1 or [::1] may be used as Host',
    });
    expect(refused.headers['connection']).toBe('close');
    await request(open).get('/').set('Host', 'rebind.example').expect(403);
    // With a password, the Host is the operator's business (a reverse proxy's name).
    await request(app())
      .get('/api/status')
      .set('Host', 'admin.example.com')
      .auth(auth.user, auth.password)
      .expect(200);
  });

  it('answers refusals with Connection: close, not waiting for the body', async () => {
    const refused = await request(app()).post('/api/users/u/replicate').send({}).expect(401);
    expect(refused.headers['connection']).toBe('close');
    expect(refused.headers['www-authenticate']).toBe('Basic realm="dovewarden admin"');
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
