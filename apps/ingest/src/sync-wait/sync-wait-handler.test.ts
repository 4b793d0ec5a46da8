import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  type EnqueueResult,
  type RawOptions,
  type SyncPriority,
  type SyncUserJobData,
  type SyncWaitOutcome,
  type SyncWaiterToken,
  createLogger,
} from '@dovewarden/shared';
import { ingestSettings } from '../__tests__/settings';
import { createAccessCheck } from '../request-access';
import { createSyncWaitHandler } from './sync-wait-handler';
import { SyncWaitMetrics } from './sync-wait-metrics';
import { SyncWaiters } from './sync-waiters';

const logger = createLogger('error', { silent: true });

interface Queued {
  data: SyncUserJobData;
  priority: SyncPriority;
  waiter: SyncWaiterToken | undefined;
}

/** The handler with a stand-in queue: the test plays the worker by notifying tokens. */
function setup(options: RawOptions = {}, fail?: Error) {
  const settings = ingestSettings({ 'sync-wait-timeout': '2s', ...options });
  const waiters = new SyncWaiters(settings.syncWait?.maxWaiters ?? 0);
  const queued: Queued[] = [];
  const noted: SyncWaitOutcome[] = [];
  const deliveryWaits: string[] = [];
  const registry = new Registry();
  let ready = true;
  const handler = createSyncWaitHandler({
    syncQueue: {
      enqueue(data, priority, waiter): Promise<EnqueueResult> {
        if (fail !== undefined) return Promise.reject(fail);
        queued.push({ data, priority, waiter });
        return Promise.resolve({ jobId: 's-1', merged: false, raised: false });
      },
    },
    waiters,
    access: createAccessCheck(settings),
    ready: () => ready,
    ledger: {
      note: (outcome) => {
        noted.push(outcome);
        return Promise.resolve();
      },
      waitStarted: (session, user) => {
        deliveryWaits.push(`started ${session} ${user}`);
        return Promise.resolve();
      },
      waitSynced: (session, user) => {
        deliveryWaits.push(`synced ${session} ${user}`);
        return Promise.resolve();
      },
    },
    logger,
    metrics: new SyncWaitMetrics(registry, () => waiters.size),
    settings,
  });
  const app = (req: IncomingMessage, res: ServerResponse): void => {
    void handler(req, res);
  };
  return {
    app,
    waiters,
    queued,
    noted,
    deliveryWaits,
    registry,
    setReady(value: boolean) {
      ready = value;
    },
    /** Resolves once the handler has queued `count` waits. */
    async queuedCount(count: number): Promise<void> {
      const deadline = Date.now() + 5_000;
      while (queued.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${queued.length} waits queued`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
  };
}

/** The `error` of a JSON answer. */
function errorOf(response: { body: unknown }): string | undefined {
  return (response.body as { error?: string }).error;
}

const post = (app: ReturnType<typeof setup>['app'], body: unknown) =>
  request(app)
    .post('/sync-wait')
    .set('Content-Type', 'application/json')
    .send(typeof body === 'string' ? body : JSON.stringify(body));

describe('POST /sync-wait', () => {
  it('answers 200 once the sync that claimed the token has succeeded, and asks for that sync above all', async () => {
    const t = setup();
    const answer = post(t.app, { user: 'User1@Example.com', mailbox: 'INBOX', uid: 7 }).then(
      (response) => response,
    );
    await t.queuedCount(1);
    const [first] = t.queued;
    expect(first?.data).toEqual({
      user: 'User1@Example.com',
      reason: { kind: 'sync-wait' },
      requestedAt: expect.any(Number) as number,
    });
    expect(first?.priority).toBe(0);
    expect(t.waiters.size).toBe(1);
    // A message that names another token changes nothing; its own answers.
    t.waiters.notify('someone-else');
    expect(t.waiters.size).toBe(1);
    t.waiters.notify(`other ${first?.waiter?.token ?? ''}`);
    const response = await answer;
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      synced: 'User1@Example.com',
      waited_ms: expect.any(Number) as number,
    });
    expect(t.waiters.size).toBe(0);
    expect(t.noted).toEqual(['synced']);
  });

  it("notes the delivery's waits by its session, so that its own event can be skipped", async () => {
    const t = setup();
    const synced = post(t.app, { user: 'user1', session: 'abc:R2' }).then((r) => r);
    await t.queuedCount(1);
    t.waiters.notify(t.queued[0]?.waiter?.token ?? '');
    expect((await synced).status).toBe(200);
    expect(t.deliveryWaits).toEqual(['started abc:R2 user1', 'synced abc:R2 user1']);
    const timedOut = setup({ 'sync-wait-timeout': '50ms' });
    expect((await post(timedOut.app, { user: 'user1', session: 's2' })).status).toBe(504);
    expect(timedOut.deliveryWaits).toEqual(['started s2 user1']);
    const bad = await post(t.app, { user: 'user1', session: 'x'.repeat(201) });
    expect(bad.status).toBe(400);
  });

  it('normalises the user as events are (DOVEWARDEN_USERNAME_FORMAT)', async () => {
    const t = setup({ 'username-format': 'lowercase,localpart' });
    const answer = post(t.app, { user: 'User1@Example.com' }).then((r) => r);
    await t.queuedCount(1);
    expect(t.queued[0]?.data.user).toBe('user1');
    t.waiters.notify(t.queued[0]?.waiter?.token ?? '');
    expect((await answer).status).toBe(200);
  });

  it('answers 504 before the delivery gives up, at the shorter of its timeout and ours', async () => {
    const t = setup({ 'sync-wait-timeout': '400ms' });
    const started = Date.now();
    const response = await post(t.app, { user: 'user1', timeout_ms: 200 });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    expect(errorOf(response)).toMatch(/not on the replica within 180 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(170);
    // The token lives no longer than the wait: the request drops it after the deadline.
    expect((t.queued[0]?.waiter?.deadline ?? 0) - started).toBeLessThanOrEqual(200);
    const asked = await post(t.app, { user: 'user1', timeout_ms: 60_000 });
    expect(errorOf(asked)).toMatch(/within 360 ms/);
    expect(t.noted).toEqual(['timeout', 'timeout']);
    expect(t.waiters.size).toBe(0);
  });

  it('refuses at once above the waiter cap, and lets the others wait', async () => {
    const t = setup({ 'sync-wait-max-waiters': '2' });
    const first = post(t.app, { user: 'a' }).then((r) => r);
    const second = post(t.app, { user: 'b' }).then((r) => r);
    await t.queuedCount(2);
    const refused = await post(t.app, { user: 'c' });
    expect(refused.status).toBe(503);
    expect(errorOf(refused)).toMatch(/too many deliveries waiting \(2\)/);
    for (const { waiter } of t.queued) t.waiters.notify(waiter?.token ?? '');
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(t.noted.sort()).toEqual(['refused', 'synced', 'synced']);
  });

  it('answers 503 at once without Redis, or when the sync cannot be queued', async () => {
    const down = setup();
    down.setReady(false);
    const response = await post(down.app, { user: 'user1' });
    expect(response.status).toBe(503);
    expect(down.queued).toEqual([]);
    const failing = setup({}, new Error('Connection is closed.'));
    const failed = await post(failing.app, { user: 'user1' });
    expect(failed.status).toBe(503);
    expect(failing.waiters.size).toBe(0);
    expect([...down.noted, ...failing.noted]).toEqual(['unavailable', 'unavailable']);
  });

  it('answers 404 at once when sync-wait is off', async () => {
    const t = setup({ 'sync-wait-timeout': '0' });
    const response = await post(t.app, { user: 'user1' });
    expect(response.status).toBe(404);
    expect(errorOf(response)).toMatch(/DOVEWARDEN_SYNC_WAIT_TIMEOUT/);
    expect(t.noted).toEqual(['off']);
  });

  it.each([
    ['not JSON', '{', /malformed JSON/],
    ['no user', { mailbox: 'INBOX' }, /"user" must be a string/],
    ['an empty user', { user: '  ' }, /"user" is empty/],
    ['a user with a control character', { user: 'a\nb' }, /control characters/],
    ['a bad UID', { user: 'a', uid: -1 }, /"uid"/],
    ['a bad timeout', { user: 'a', timeout_ms: 0 }, /"timeout_ms"/],
    ['an array', [1], /JSON object/],
  ])('answers 400 at once to %s', async (_what, body, error) => {
    const t = setup();
    const response = await post(t.app, body);
    expect(response.status).toBe(400);
    expect(errorOf(response)).toMatch(error);
    expect(t.queued).toEqual([]);
  });

  it('checks credentials and method as POST /events does', async () => {
    const t = setup({ 'ingest-password': 'pw' });
    expect((await post(t.app, { user: 'a' })).status).toBe(401);
    const authorised = await request(t.app).get('/sync-wait').auth('dovecot', 'pw');
    expect(authorised.status).toBe(405);
    expect(t.noted).toEqual(['rejected', 'rejected']);
  });

  it('forgets a wait whose delivery went away, and answers every wait at shutdown', async () => {
    const t = setup({ 'sync-wait-timeout': '30s' });
    const gone = request(t.app)
      .post('/sync-wait')
      .set('Content-Type', 'application/json')
      .timeout(300)
      .send(JSON.stringify({ user: 'a' }))
      .then(
        () => 'answered',
        () => 'cut',
      );
    expect(await gone).toBe('cut');
    const deadline = Date.now() + 5_000;
    while (t.waiters.size > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(t.waiters.size).toBe(0);
    expect(t.noted).toEqual(['abandoned']);

    const waiting = post(t.app, { user: 'b' }).then((r) => r);
    await t.queuedCount(2);
    t.waiters.endAll();
    const response = await waiting;
    expect(response.status).toBe(503);
    expect(errorOf(response)).toMatch(/stopping/);
  });

  it('counts each outcome and the time waited in the metrics', async () => {
    const t = setup({ 'sync-wait-timeout': '100ms' });
    await post(t.app, { user: 'a' });
    const text = await t.registry.metrics();
    expect(text).toMatch(/dovewarden_sync_wait_total\{outcome="timeout"\} 1/);
    expect(text).toMatch(/dovewarden_sync_wait_duration_seconds_count\{outcome="timeout"\} 1/);
    expect(text).toMatch(/dovewarden_sync_waiters 0/);
  });
});
