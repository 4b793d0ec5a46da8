// The dovewarden image as docker-compose.yml and the chart run it: non-root, read-only root
// file system with a tmpfs /tmp, each role ready on its metrics port, a clean exit on SIGTERM.
// Build it first: scripts/docker-images.sh (or docker build -t dovewarden:local .).
import { relativeBound, waitUntil, type Reference } from '@dovewarden/testkit';
import {
  APP_IMAGE,
  containerState,
  describeWithDocker,
  docker,
  dockerRunReference,
  httpGet,
  publishedPort,
  report,
  repoFile,
  run,
  uniqueName,
} from './docker';

/** The Redis image docker-compose.yml runs, for the apps' external Redis. */
const REDIS_IMAGE = ((): string => {
  const match = /^\s+image:\s*['"]?(redis:[^\s'"]+)/m.exec(repoFile('docker-compose.yml'));
  if (match === null) throw new Error('docker-compose.yml names no redis image');
  return match[1];
})();

/** As docker-compose.yml: Docker's grace above the app's own shutdown timeout. */
const SHUTDOWN_TIMEOUT = '20s';
const STOP_GRACE_SECONDS = 30;

const READ_ONLY = ['--read-only', '--tmpfs', '/tmp'];

describeWithDocker('the dovewarden image', [APP_IMAGE, REDIS_IMAGE], () => {
  const prefix = uniqueName('dwimage');
  const network = `${prefix}-net`;
  const containers: string[] = [];
  let reference: Reference;

  beforeAll(async () => {
    reference = await dockerRunReference();
  });

  afterAll(async () => {
    for (const name of containers) await run('docker', ['rm', '-f', '-v', name]);
    await run('docker', ['network', 'rm', network]);
  });

  /** docker run -d, with the name remembered for afterAll. */
  async function start(name: string, args: readonly string[]): Promise<void> {
    containers.push(name);
    await docker(['run', '-d', '--name', name, ...args]);
  }

  async function waitReady(name: string): Promise<{ ready: boolean; checks: object }> {
    const port = await publishedPort(name, 9090);
    let last = 'no answer yet';
    let body = '';
    await waitUntil(
      async () => {
        const state = await containerState(name);
        if (state.status !== 'running') {
          const logs = await run('docker', ['logs', '--tail', '20', name]);
          throw new Error(`${name} is ${state.status} (exit ${state.exitCode}): ${logs.stderr}`);
        }
        const answer = await httpGet(`http://127.0.0.1:${port}/readyz`);
        last = answer === null ? 'no answer' : `${answer.status} ${answer.body}`;
        body = answer?.body ?? '';
        return answer?.status === 200;
      },
      relativeBound(reference, 15),
      () => `${name}: /readyz on 9090 to answer 200 (last: ${last})`,
      100,
    );
    return JSON.parse(body) as { ready: boolean; checks: object };
  }

  /** docker stop with compose's grace; the app must exit 0 by itself, long before a SIGKILL. */
  async function stopCleanly(name: string): Promise<void> {
    const started = performance.now();
    await docker(['stop', '-t', String(STOP_GRACE_SECONDS), name]);
    const elapsed = performance.now() - started;
    const state = await containerState(name);
    const logs = await run('docker', ['logs', '--tail', '5', name]);
    report(`image: ${name} stopped in ${Math.round(elapsed)} ms, exit ${state.exitCode}`);
    // 137 would be Docker's SIGKILL after the grace period; 0 is the app's own clean exit.
    expect({ exitCode: state.exitCode, oomKilled: state.oomKilled }).toEqual({
      exitCode: 0,
      oomKilled: false,
    });
    expect(elapsed).toBeLessThan(STOP_GRACE_SECONDS * 1000);
    expect(logs.stdout + logs.stderr).toContain('shutdown complete');
  }

  it('runs as uid/gid 10001, declares /data and /tmp as volumes, and reports its size', async () => {
    const id = await docker(['run', '--rm', ...READ_ONLY, '--entrypoint', 'id', APP_IMAGE]);
    expect(id.trim()).toBe('uid=10001(dovewarden) gid=10001(dovewarden) groups=10001(dovewarden)');
    const config = JSON.parse(
      await docker(['image', 'inspect', '--format', '{{json .Config}}', APP_IMAGE]),
    ) as { User: string; Volumes: Record<string, unknown>; Env: string[] };
    expect(config.User).toBe('dovewarden:dovewarden');
    expect(Object.keys(config.Volumes).sort()).toEqual(['/data', '/tmp']);
    expect(config.Env).toContain('DOVEWARDEN_DATA_DIR=/data');
    const size = Number(await docker(['image', 'inspect', '--format', '{{.Size}}', APP_IMAGE]));
    report(`image: ${APP_IMAGE} is ${(size / 1e6).toFixed(0)} MB`);
    expect(size).toBeGreaterThan(0);
  });

  describe('each app with an external Redis', () => {
    beforeAll(async () => {
      await docker(['network', 'create', network]);
      await start(`${prefix}-redis`, [
        '--network',
        network,
        '--network-alias',
        'redis',
        REDIS_IMAGE,
        'redis-server',
        '--appendonly',
        'no',
      ]);
      await waitUntil(
        async () =>
          (await run('docker', ['exec', `${prefix}-redis`, 'redis-cli', 'ping'])).stdout.trim() ===
          'PONG',
        relativeBound(reference, 10),
        `${REDIS_IMAGE} to answer PING`,
        100,
      );
    });

    it.each(['ingest', 'worker', 'scheduler', 'admin'])(
      '%s runs read-only, answers /readyz with 200 and exits 0 on SIGTERM',
      async (role) => {
        const name = `${prefix}-${role}`;
        await start(name, [
          '--network',
          network,
          ...READ_ONLY,
          '-p',
          '127.0.0.1::9090',
          '-e',
          'DOVEWARDEN_REDIS_MODE=external',
          '-e',
          'DOVEWARDEN_REDIS_ADDR=redis:6379',
          '-e',
          `DOVEWARDEN_NAMESPACE=${prefix}`,
          // Worker and scheduler refuse to start without doveadm credentials; nothing is synced.
          '-e',
          'DOVEWARDEN_DOVEADM_URL=http://127.0.0.1:1',
          '-e',
          'DOVEWARDEN_DOVEADM_PASSWORD=unused',
          '-e',
          'DOVEWARDEN_ADMIN_PASSWORD=unused',
          '-e',
          `DOVEWARDEN_SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT}`,
          APP_IMAGE,
          role,
        ]);
        const readiness = await waitReady(name);
        expect(readiness.ready).toBe(true);
        expect(Object.keys(readiness.checks).some((check) => check.startsWith(role))).toBe(true);
        await stopCleanly(name);
      },
    );
  });

  it('all, with the default embedded Redis (inmemory), keeps its data in the /data volume', async () => {
    const name = `${prefix}-all`;
    await start(name, [...READ_ONLY, '-p', '127.0.0.1::9090', APP_IMAGE]);
    const readiness = await waitReady(name);
    expect(readiness).toMatchObject({
      ready: true,
      checks: { 'ingest-redis': true, 'admin-redis': true },
    });
    const mounts = JSON.parse(await docker(['inspect', '--format', '{{json .Mounts}}', name])) as {
      Type: string;
      Destination: string;
      RW: boolean;
    }[];
    expect(mounts.find((mount) => mount.Destination === '/data')).toMatchObject({
      Type: 'volume',
      RW: true,
    });
    // The embedded redis-server writes its AOF there, as the app's user.
    const data = await docker(['exec', name, 'ls', '-ln', '/data']);
    expect(data).toMatch(/^d\S+\s+\d+\s+10001\s+10001\s.*appendonlydir$/m);
    await stopCleanly(name);
    const logs = await run('docker', ['logs', name]);
    expect(logs.stdout + logs.stderr).toContain('embedded redis-server stopped');
  });
});
