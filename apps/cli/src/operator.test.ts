import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { StateKeys, SyncWaitLedger } from '@dovewarden/shared';
import { MAIN, RUN_TIMEOUT_MS } from './__tests__/run-cli';

describe('operator commands against real Redis', () => {
  const namespace = `dwtest-cli-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const run = (...args: string[]) => runWith(undefined, ...args);
  const runWith = (input: string | undefined, ...args: string[]) => {
    const result = spawnSync(process.execPath, [MAIN, ...args], {
      ...(input === undefined ? {} : { input }),
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

  it('status says how deliveries that waited for B were answered (sync-wait)', async () => {
    expect(run('status').stdout).toMatch(
      /^deliveries that waited for B \(sync-wait\) +none \(off, or no delivery yet\)$/m,
    );
    const keys = new StateKeys(namespace);
    const ledger = new SyncWaitLedger(redis, keys.syncWaitTally, (session, user) =>
      keys.deliveryWaits(session, user),
    );
    for (const outcome of ['synced', 'synced', 'timeout', 'refused', 'unavailable'] as const)
      await ledger.note(outcome, Date.UTC(2026, 11, 6, 7, 0, 0));
    const { stdout } = run('status');
    expect(stdout).toMatch(
      /^deliveries that waited for B \(sync-wait\) +2 on B in time, 1 timed out \(last 2026-12-06T07:00:00.000Z\), 1 refused \(too many waiting\) \(last [^)]+\), 1 answered at once \(1 Redis down,/m,
    );
    const overall = JSON.parse(run('status', '--json').stdout) as {
      syncWait: { counts: Record<string, number> };
    };
    expect(overall.syncWait.counts).toMatchObject({ synced: 2, timeout: 1, refused: 1 });
    await redis.del(new StateKeys(namespace).syncWaitTally);
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

  describe('masks, as doveadm replicator took them', () => {
    let now = 0;
    const HMS = '\\d\\d:\\d\\d:\\d\\d';
    /** An `HH:MM:SS` ago cell names a time `agoMs` before the data was written, read since. */
    const expectAgo = (cell: string | undefined, agoMs: number) => {
      const [h, m, sec] = (cell ?? '').split(':').map(Number);
      const seconds = (h ?? NaN) * 3600 + (m ?? NaN) * 60 + (sec ?? NaN);
      expect(seconds).toBeGreaterThanOrEqual(Math.floor(agoMs / 1000));
      expect(seconds).toBeLessThanOrEqual(Math.floor((agoMs + Date.now() - now) / 1000));
    };
    const lastSuccess = `${namespace}:last-success`;
    const fullSync = `${namespace}:last-full-sync:${encodeURIComponent('tcp:replica:1')}`;
    const row = (line: string) => line.split('\t');

    beforeAll(async () => {
      now = Date.now();
      await redis.zadd(
        lastSuccess,
        now - 3_723_000,
        'm1@mask.example',
        now - 5_000,
        'm2@mask.example',
        now - 90_000_000,
        'other@mask.example',
      );
      await redis.zadd(fullSync, now - 7_200_000, 'm1@mask.example');
      await redis.zadd(`${namespace}:failed-users`, now, 'm2@mask.example');
    });

    afterAll(async () => {
      await redis.zrem(`${namespace}:failed-users`, 'm2@mask.example');
    });

    it("status MASK prints doveadm's user table in each of its formats", () => {
      const table = run('status', 'm?@mask.example');
      expect(table.status).toBe(0);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^username +priority +fast sync +full sync +success sync +failed$/);
      expect(lines.slice(1).sort()).toEqual([
        expect.stringMatching(new RegExp(`^m1@mask\\.example +none +${HMS} +${HMS} +${HMS} +-$`)),
        expect.stringMatching(new RegExp(`^m2@mask\\.example +none +${HMS} +- +${HMS} +y$`)),
      ]);

      const tab = run('-f', 'tab', 'status', 'm*');
      expect(tab.status).toBe(0);
      const [header, ...rows] = tab.stdout.trimEnd().split('\n');
      expect(row(header ?? '')).toEqual([
        'username',
        'priority',
        'fast sync',
        'full sync',
        'success sync',
        'failed',
      ]);
      const cells = new Map(rows.map((line) => [row(line)[0], row(line)]));
      expect([...cells.keys()].sort()).toEqual(['m1@mask.example', 'm2@mask.example']);
      const m1 = cells.get('m1@mask.example');
      expect(m1?.[1]).toBe('none');
      expectAgo(m1?.[2], 3_723_000);
      expectAgo(m1?.[3], 7_200_000);
      expectAgo(m1?.[4], 3_723_000);
      expect(m1?.[5]).toBe('-');
      const m2 = cells.get('m2@mask.example');
      expect(m2?.[3]).toBe('-');
      expectAgo(m2?.[4], 5_000);
      expect(m2?.[5]).toBe('y');

      const json = JSON.parse(run('status', '-f', 'json', '*@mask.example').stdout) as Record<
        string,
        string
      >[];
      expect(json.map((entry) => entry['username']).sort()).toEqual([
        'm1@mask.example',
        'm2@mask.example',
        'other@mask.example',
      ]);
      const other = json.find((entry) => entry['username'] === 'other@mask.example');
      expect(other).toMatchObject({ 'full sync': '-', failed: '-' });
      // Over a day ago: the hours go on past 24, as doveadm's did.
      expectAgo(other?.['success sync'], 90_000_000);

      const flow = run('status', '--format', 'flow', 'other@mask.example');
      expect(flow.stdout).toMatch(
        new RegExp(
          `^username=other@mask\\.example priority=none fast sync=${HMS} full sync=- success sync=${HMS} failed=-\n$`,
        ),
      );
      // A mask that matches nobody: the header alone, as doveadm.
      expect(run('status', 'nobody*')).toMatchObject({
        status: 0,
        stdout: 'username priority fast sync full sync success sync failed\n',
      });
    });

    it("status -f tab without a mask prints doveadm's field/value lines only", () => {
      const { status, stdout } = run('status', '-f', 'tab');
      expect(status).toBe(0);
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('field\tvalue');
      expect(lines.slice(1).map((line) => row(line)[0])).toEqual([
        "Queued 'sync' requests",
        "Queued 'high' requests",
        "Queued 'low' requests",
        "Queued 'failed' requests",
        "Queued 'full resync' requests",
        "Waiting 'failed' requests",
        'Total number of known users',
      ]);
      expect(lines[6]).toBe("Waiting 'failed' requests\t1");
    });

    it('replicate -p -f takes masks of known users, and a list on standard input', () => {
      expect(run('replicate', '-p', 'low', 'm?@mask.example')).toMatchObject({
        status: 0,
        stdout: 'queued a sync for 2 user(s)\n',
      });
      const queued = run('status', '-f', 'tab', '*@mask.example').stdout;
      expect(queued).toMatch(/^m1@mask\.example\tlow\t/m);
      expect(queued).toMatch(/^other@mask\.example\tnone\t/m);
      // A list piped in: names and masks, one per line.
      expect(runWith('other@mask.example\nnew@mask.example\n', 'replicate', '-f')).toMatchObject({
        status: 0,
        stdout: 'queued a full sync for 2 user(s)\n',
      });
      expect(runWith('m1@mask.example\n', 'replicate', '-', 'm2@mask.example')).toMatchObject({
        status: 0,
        stdout: 'queued a sync for 2 user(s)\n',
      });
      const after = run('status', '-f', 'tab', '*@mask.example').stdout;
      expect(after).toMatch(/^other@mask\.example\thigh\t/m);
      // Never synced, but queued by name: asked for by name, it shows its pending sync. (Masks
      // match the users with a record: synced, failed or unknown to doveadm.)
      expect(after).not.toMatch(/^new@mask/m);
      expect(run('status', '-f', 'tab', 'new@mask.example').stdout).toMatch(
        /^new@mask\.example\thigh\t-\t-\t-\t-$/m,
      );
      expect(run('replicate', 'none*')).toMatchObject({
        status: 0,
        stdout: 'queued a sync for 0 user(s)\n',
      });
    });

    it('remove MASK forgets every known user it matches, and only those', async () => {
      const removed = run('remove', 'm*@mask.example');
      expect(removed.status).toBe(0);
      expect(removed.stdout.trimEnd().split('\n').sort()).toEqual([
        'removed m1@mask.example: dsync states and marks dropped, pending sync removed',
        'removed m2@mask.example: dsync states and marks dropped, pending sync removed',
      ]);
      expect(await redis.zscore(lastSuccess, 'm1@mask.example')).toBeNull();
      expect(await redis.zscore(fullSync, 'm1@mask.example')).toBeNull();
      expect(await redis.zscore(lastSuccess, 'other@mask.example')).not.toBeNull();
      expect(run('status', 'm1@mask.example', 'other@mask.example')).toMatchObject({
        status: 1,
        stderr: 'dovewarden: no replication record of user "m1@mask.example"\n',
      });
    });
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
    [['remove'], /^dovewarden: name users or masks to remove\n$/],
  ])('%j fails with one line and exit 1', (args, pattern) => {
    const result = run(...args);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
