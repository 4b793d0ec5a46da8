import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { MAIN, RUN_TIMEOUT_MS } from './__tests__/run-cli';

describe('operator commands against real Redis', () => {
  const namespace = `dwtest-cli-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const run = (...args: string[]) => {
    const result = spawnSync(process.execPath, [MAIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DOVEWARDEN_REDIS_MODE: 'external',
        DOVEWARDEN_REDIS_ADDR: '127.0.0.1:6379',
        DOVEWARDEN_NAMESPACE: namespace,
        DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:1',
      },
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  afterAll(async () => {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('replicate queues a sync that status then shows, as a table and as JSON', () => {
    expect(
      run('replicate', 'user1@example.com', 'a:b', '--full', '--priority', 'normal'),
    ).toMatchObject({
      status: 0,
      stdout: 'queued a full sync for 2 user(s)\n',
    });
    const table = run('status', 'user1@example.com');
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/queue\s+prioritized \(priority 5, 0 attempts made\)/);
    expect(table.stdout).toMatch(/→ tcp:replica:1\s+last success never/);
    const overall = JSON.parse(run('status', '--json').stdout) as Record<string, unknown>;
    expect(overall).toMatchObject({
      queued: 2,
      queuedByPriority: { high: 0, normal: 2, low: 0 },
      active: 0,
      failed: 0,
      syncs: [],
    });
  });

  it("status starts with doveadm replicator status's lines, as monitoring scripts parse them", async () => {
    await redis.zadd(`${namespace}:failed-users`, 1, 'broken@example.com');
    const { status, stdout } = run('status');
    expect(status).toBe(0);
    const lines = stdout.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      expect.stringMatching(/^Queued 'sync' requests +0$/),
      expect.stringMatching(/^Queued 'high' requests +2$/),
      expect.stringMatching(/^Queued 'low' requests +0$/),
      expect.stringMatching(/^Queued 'failed' requests +0$/),
      expect.stringMatching(/^Queued 'full resync' requests +0$/),
      expect.stringMatching(/^Waiting 'failed' requests +1$/),
      expect.stringMatching(/^Total number of known users +\d+$/),
    ]);
    // What mailcow's watchdog does with it.
    const waitingFailed = /^Waiting 'failed' requests\s+(\d+)$/m.exec(stdout)?.[1];
    expect(waitingFailed).toBe('1');
    await redis.zrem(`${namespace}:failed-users`, 'broken@example.com');
  });

  it('dsync-status lists the running syncs: user, type, destination, since', async () => {
    expect(run('replicate', 'busy@example.com', '--full').status).toBe(0);
    // Take that job as a worker would, so that it runs.
    const connection = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
    const worker = new Worker('replication', null, {
      connection,
      prefix: namespace,
      autorun: false,
    });
    try {
      let job: Job | undefined;
      while (job === undefined || (job.data as { user?: string }).user !== 'busy@example.com') {
        job = (await worker.getNextJob('test-token', { block: false })) as Job | undefined;
        if (job === undefined) throw new Error('no job to take');
      }
      const listed = JSON.parse(run('dsync-status', '--json').stdout) as { syncs: unknown[] };
      expect(listed.syncs).toContainEqual({
        user: 'busy@example.com',
        type: 'full',
        destination: 'tcp:replica:1',
        since: expect.any(Number) as number,
      });
      const table = run('dsync-status');
      expect(table.status).toBe(0);
      expect(table.stdout).toMatch(/^username\s+type\s+destination\s+since\n/);
      expect(table.stdout).toMatch(/^busy@example\.com\s+full\s+tcp:replica:1\s+\d{4}-/m);
    } finally {
      await worker.close();
      await connection.quit();
    }
  });

  it('remove drops the pending job, states and marks', async () => {
    await redis.set(`${namespace}:dsync-state:${encodeURIComponent('tcp:replica:1')}:a:b`, 'state');
    await redis.zadd(`${namespace}:last-success`, 1, 'a:b');
    expect(run('remove', 'a:b')).toMatchObject({
      status: 0,
      stdout: 'removed a:b: dsync states and marks dropped, pending sync removed\n',
    });
    expect(
      await redis.exists(`${namespace}:dsync-state:${encodeURIComponent('tcp:replica:1')}:a:b`),
    ).toBe(0);
    expect(await redis.zscore(`${namespace}:last-success`, 'a:b')).toBeNull();
    const gone = run('status', 'a:b');
    expect(gone.status).toBe(1);
    expect(gone.stderr).toBe('dovewarden: no replication record of user "a:b"\n');
  });

  it.each([
    [
      ['status', 'nobody@example.com'],
      /^dovewarden: no replication record of user "nobody@example.com"\n$/,
    ],
    [['replicate'], /^dovewarden: name users, or give --all, but not both\n$/],
    [['replicate', 'x', '--priority', 'urgent'], /^dovewarden: invalid --priority "urgent"/],
    [
      ['replicate', '--all'],
      /^dovewarden: missing --doveadm-password \(DOVEWARDEN_DOVEADM_PASSWORD\)/,
    ],
    [['remove'], /^dovewarden: Not enough non-option arguments/],
  ])('%j fails with one line and exit 1', (args, pattern) => {
    const result = run(...args);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
