import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { embeddedRedisSocket, redisServersOn } from '@dovewarden/shared';
import {
  DovewardenProcess,
  cliNodeFlags,
  cliPath,
  freePorts,
  nodeStartReference,
  relativeBound,
  sleep,
} from '@dovewarden/testkit';

/**
 * `npm start` (`dovewarden all`) crashed and started again by hand or by a supervisor: one
 * embedded Redis per data dir whatever happened, and nothing it held is lost. No Dovecot here:
 * without doveadm credentials the all-in-one queues syncs and runs none, so the jobs stay put.
 */
describe('dovewarden all after a crash', () => {
  const root = mkdtempSync(join(tmpdir(), 'dw-aio-'));
  const dataDir = join(root, 'data');
  const namespace = 'dovewarden';
  const dest = 'tcp:replica.example:12345';
  let env: Record<string, string> = {};
  let metricsPort = 0;
  const running: DovewardenProcess[] = [];

  beforeAll(async () => {
    const [http, metrics, admin] = await freePorts(3);
    metricsPort = metrics!;
    env = {
      DOVEWARDEN_DATA_DIR: dataDir,
      DOVEWARDEN_NAMESPACE: namespace,
      DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${http}`,
      DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${metrics}`,
      DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${admin}`,
      DOVEWARDEN_DOVEADM_DEST: dest,
    };
  });

  afterAll(async () => {
    for (const proc of running) await proc.stop();
    for (const pid of redisServersOn(dataDir)) process.kill(pid, 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  async function start(): Promise<DovewardenProcess> {
    const proc = DovewardenProcess.start({ args: ['all'], env, metricsPort, detached: true });
    running.push(proc);
    await proc.waitUntilReady();
    return proc;
  }

  function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [...cliNodeFlags(), cliPath(), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function client(): Redis {
    return new Redis({ path: embeddedRedisSocket(dataDir), maxRetriesPerRequest: 1 });
  }

  /** What must survive: the queued syncs and a dsync state. */
  async function heldData(): Promise<{ queued: number; state: string | null }> {
    const status = cli('status', '--json');
    expect(status.stderr).toBe('');
    const redis = client();
    try {
      return {
        queued: (JSON.parse(status.stdout) as { queued: number }).queued,
        state: await redis.get(`${namespace}:dsync-state:${encodeURIComponent(dest)}:user1`),
      };
    } finally {
      redis.disconnect();
    }
  }

  /** Waits until no redis-server runs on the data dir, within a hang guard of node starts. */
  async function redisGone(): Promise<boolean> {
    const deadline = Date.now() + relativeBound(await nodeStartReference(), 100).ms;
    while (redisServersOn(dataDir).length > 0) {
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
    return true;
  }

  it('queues syncs and keeps a dsync state on a private socket', async () => {
    await start();
    expect(redisServersOn(dataDir)).toHaveLength(1);
    expect(cli('replicate', 'user1', 'user2')).toMatchObject({ status: 0 });
    const redis = client();
    await redis.set(`${namespace}:dsync-state:${encodeURIComponent(dest)}:user1`, 'state-1');
    redis.disconnect();
    expect(await heldData()).toEqual({ queued: 2, state: 'state-1' });
  });

  it('kill -9 of the node process alone: its Redis stops, and the restart has one and all data', async () => {
    const proc = running.pop()!;
    proc.kill();
    await proc.exited();
    // The embedded Redis follows its parent (parent-death signal), writing its AOF out.
    expect(await redisGone()).toBe(true);
    await start();
    expect(redisServersOn(dataDir)).toHaveLength(1);
    expect(await heldData()).toEqual({ queued: 2, state: 'state-1' });
  });

  it('kill -9 of the whole process group: the same', async () => {
    const proc = running.pop()!;
    proc.killGroup();
    await proc.exited();
    expect(await redisGone()).toBe(true);
    const restarted = await start();
    expect(redisServersOn(dataDir)).toHaveLength(1);
    expect(await heldData()).toEqual({ queued: 2, state: 'state-1' });
    // And a clean stop leaves none behind.
    running.pop();
    expect(await restarted.stop()).toEqual({ code: 0, signal: null });
    expect(redisServersOn(dataDir)).toEqual([]);
  });
});
