import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { cliPath, describeWithDovecot } from '@dovewarden/testkit';
import { ChaosCluster, type ManagedProcess } from './harness/chaos-cluster';
import { sleep } from './harness/scenario';

const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+/;

/**
 * Bad input and secrets, against the real processes of a cluster that has replicated for a
 * while: every answer to garbage is a clear 4xx without a stack, no process dies, and no
 * password or key appears in any log line, metric, Bull Board view or error body.
 */
/**
 * How long this machine, now, takes to answer a plain admin request and to push `bytes` through
 * a local HTTP server that reads them all: "refused cheaply" is a multiple of that, never a
 * bare number of seconds.
 */
async function baselineMs(plain: () => Promise<unknown>, bytes: number): Promise<number> {
  const sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const address = sink.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const body = 'x'.repeat(bytes);
  const times: number[] = [];
  try {
    for (let i = 0; i < 5; i += 1) {
      const started = Date.now();
      await plain();
      await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body }).then((r) => r.text());
      times.push(Date.now() - started);
    }
  } finally {
    sink.close();
  }
  return [...times].sort((a, b) => a - b)[2] ?? 0;
}

/** A refusal may take this many times the baseline: a real parse of the garbage takes far more. */
const CHEAP_FACTOR = 20;

describeWithDovecot('2.4')('security and bad input', () => {
  let cluster: ChaosCluster;
  let admin: ManagedProcess;
  let ingest: ManagedProcess;
  const seen: string[] = [];

  const adminUrl = (path: string): string => `http://127.0.0.1:${admin.httpPort}${path}`;
  const basic = (): string =>
    `Basic ${Buffer.from(`admin:${cluster.secrets.adminPassword}`).toString('base64')}`;

  async function call(
    url: string,
    init: RequestInit & { auth?: boolean } = {},
  ): Promise<{ status: number; body: string }> {
    const headers = new Headers(init.headers);
    if (init.auth ?? true) headers.set('authorization', basic());
    const res = await fetch(url, { ...init, headers });
    const body = await res.text();
    seen.push(body);
    return { status: res.status, body };
  }

  beforeAll(async () => {
    cluster = await ChaosCluster.start({ users: 5, ingests: 1, workers: 1, admins: 1 });
    [admin] = cluster.of('admin') as [ManagedProcess];
    [ingest] = cluster.of('ingest') as [ManagedProcess];
    await cluster.seed();
    const driver = cluster.driver({ ratePerSecond: 10 });
    driver.start();
    await sleep(4000);
    await driver.stop();
    // A precondition, not a bound: all the time a slow machine could need.
    const { last } = await cluster.comparer.waitForConvergence(cluster.users, 120_000, {
      pending: () => cluster.pendingJobs(),
    });
    expect(last.differences).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    const { uncleanExits } = await cluster.stop();
    expect(uncleanExits).toEqual([]);
  });

  it('admin answers 401 to every route without credentials, and refuses cross-site changes', async () => {
    for (const path of ['/', '/api/status', '/api/syncs', '/api/users/chaos01', '/api/queues']) {
      expect({ path, status: (await call(adminUrl(path), { auth: false })).status }).toEqual({
        path,
        status: 401,
      });
    }
    const wrong = await fetch(adminUrl('/api/status'), {
      headers: { authorization: `Basic ${Buffer.from('admin:guess').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    const csrf = await call(adminUrl('/api/users/chaos01/replicate'), {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(csrf.status).toBe(403);
    const sameSite = await call(adminUrl('/api/users/chaos01/replicate'), {
      method: 'POST',
      headers: { origin: `http://127.0.0.1:${admin.httpPort}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(sameSite.status).toBe(202);
  });

  it('answers garbage on every admin route with a clear 4xx, no stack trace, and stays up', async () => {
    const json = { 'content-type': 'application/json' };
    const cases: Array<{ path: string; init?: RequestInit }> = [
      { path: '/api/users/%00' },
      { path: `/api/users/${'x'.repeat(5000)}` },
      { path: '/api/users/%E0%A4%A' },
      { path: '/api/users/chaos01/replicate', init: { method: 'POST', headers: json, body: '{' } },
      {
        path: '/api/users/chaos01/replicate',
        init: { method: 'POST', headers: json, body: '{"priority":"urgent"}' },
      },
      {
        path: '/api/users/chaos01/replicate',
        init: { method: 'POST', headers: json, body: `{"a":"${'x'.repeat(1_000_000)}"}` },
      },
      {
        path: '/api/users/chaos01/replicate',
        init: { method: 'POST', headers: json, body: '['.repeat(8000) + ']'.repeat(8000) },
      },
      { path: '/api/users/%00/replicate', init: { method: 'POST', headers: json, body: '{}' } },
      { path: '/api/queues/no-such-queue' },
      { path: '/api/queues/no-such-queue/retry/failed', init: { method: 'PUT' } },
      { path: '/api/queues/replication/no-such-job' },
      { path: '/api/queues/replication/no-such-job/retry/failed', init: { method: 'PUT' } },
      { path: '/api/nothing-here' },
    ];
    const cheapMs =
      CHEAP_FACTOR * (await baselineMs(() => call(adminUrl('/api/status')), 1_000_000));
    console.log(`admin refusals must take under ${cheapMs} ms (${CHEAP_FACTOR} × baseline)`);
    for (const { path, init } of cases) {
      const started = Date.now();
      const answer = await call(adminUrl(path), init);
      const label = `${init?.method ?? 'GET'} ${path.slice(0, 60)}`;
      expect({ label, status: answer.status >= 400 && answer.status < 500 }).toEqual({
        label,
        status: true,
      });
      expect(answer.body).not.toMatch(STACK_TRACE);
      // Refused cheaply: a megabyte or a deep nest takes no longer than a plain answer plus
      // moving a megabyte, times CHEAP_FACTOR.
      expect(Date.now() - started).toBeLessThan(cheapMs);
    }
    // A name with slashes is only a user nobody knows: an empty record, nothing read from disk.
    const traversal = await call(adminUrl('/api/users/a%2F..%2F..%2Fetc%2Fpasswd'));
    expect(traversal.status).toBeLessThan(500);
    expect(traversal.body).not.toContain('root:');
    expect(admin.process.running).toBe(true);
    expect((await call(adminUrl('/api/status'))).status).toBe(200);
  });

  it('ingest refuses oversized and deeply nested bodies cheaply, and stays up', async () => {
    const url = `http://127.0.0.1:${ingest.httpPort}/events`;
    const auth = `Basic ${Buffer.from(`dovecot:${cluster.secrets.ingestPassword}`).toString('base64')}`;
    const headers = { 'content-type': 'application/json', authorization: auth };
    const cheapMs =
      CHEAP_FACTOR *
      (await baselineMs(
        () => fetch(`http://127.0.0.1:${ingest.metricsPort}/healthz`).then((r) => r.text()),
        5_000_000,
      ));
    const started = Date.now();
    const justOver = await fetch(url, {
      method: 'POST',
      headers,
      body: `{"event":"x","fields":{"user":"${'a'.repeat(70_000)}"}}`,
    });
    expect(justOver.status).toBe(413);
    // Far over the limit, ingest may answer 413 and close before the client has sent it all;
    // either way it reads no more than the limit.
    const huge = await fetch(url, {
      method: 'POST',
      headers,
      body: `{"event":"x","fields":{"user":"${'a'.repeat(5_000_000)}"}}`,
    }).then(
      (res) => res.status,
      () => 'closed',
    );
    expect([413, 'closed']).toContain(huge);
    const nested = await fetch(url, {
      method: 'POST',
      headers,
      body: `{"fields":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
    });
    expect(nested.status).toBe(400);
    seen.push(await justOver.text(), await nested.text());
    expect(Date.now() - started).toBeLessThan(cheapMs);
    expect(ingest.process.running).toBe(true);
  });

  it('every CLI command answers bad flags with a one-line error and a non-zero exit, never a stack', () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DOVEWARDEN_REDIS_MODE: 'external',
      DOVEWARDEN_REDIS_ADDR: `127.0.0.1:${cluster.redis.port}`,
      DOVEWARDEN_NAMESPACE: cluster.namespace,
      DOVEWARDEN_DOVEADM_PASSWORD: cluster.secrets.doveadmPassword,
    };
    const invocations = [
      ['frobnicate'],
      ['status', '--no-such-flag'],
      ['status', '--json', 'extra', 'args'],
      ['replicate'],
      ['replicate', '--priority', 'urgent', 'chaos01'],
      ['replicate', '--all', 'chaos01'],
      ['remove'],
      ['remove', ''],
      ['verify'],
      ['verify', 'never-synced-user', '--replica-doveadm-url', 'not a url'],
      ['worker', '--num-workers', 'many'],
      ['ingest', '--http-addr', 'nowhere:99999'],
      ['scheduler', '--background-replication-interval', 'soon'],
      ['admin', '--admin-addr', ':-1'],
      ['all', '--redis-mode', 'sideways'],
      ['dovecot-config', '--dovecot-version', '1.0'],
    ];
    for (const args of invocations) {
      const result = spawnSync(process.execPath, [cliPath(), ...args], {
        env,
        encoding: 'utf8',
        timeout: 20_000,
      });
      const output = `${result.stdout}\n${result.stderr}`;
      seen.push(output);
      const label = args.join(' ');
      expect({ label, failed: result.status !== 0 && result.status !== null }).toEqual({
        label,
        failed: true,
      });
      expect({ label, stack: STACK_TRACE.test(output) }).toEqual({ label, stack: false });
      expect(result.stderr.trim()).not.toBe('');
    }
  });

  it('no secret appears in any log line, metric, Bull Board view or answer', async () => {
    // The board's job views, as a browser fetches them, for every state that holds jobs.
    for (const status of ['completed', 'failed', 'delayed', 'prioritized', 'waiting', 'active']) {
      const board = await call(
        adminUrl(`/api/queues?activeQueue=replication&status=${status}&page=1`),
      );
      expect(board.status).toBe(200);
    }
    const completed = seen.at(-6) ?? '';
    expect(completed).toContain('chaos0');
    for (const managed of cluster.processes) {
      seen.push(await (await fetch(`http://127.0.0.1:${managed.metricsPort}/metrics`)).text());
    }
    // The dsync states are not secrets, but they are no one's business on a board either.
    const redis = cluster.redisClient();
    const stateKeys = await redis.keys(`${cluster.namespace}:dsync-state:*`);
    const states = stateKeys.length === 0 ? [] : await redis.mget(...stateKeys);
    redis.disconnect();
    expect(states.length).toBeGreaterThan(0);
    const everything = `${seen.join('\n')}\n${cluster.allOutput()}`;
    for (const name of ['doveadmPassword', 'ingestPassword', 'adminPassword'] as const) {
      const found = everything.includes(cluster.secrets[name]);
      expect({ name, found }).toEqual({ name, found: false });
    }
    for (const state of states) {
      if (state !== null) expect(seen.join('\n')).not.toContain(state);
    }
  });
});
