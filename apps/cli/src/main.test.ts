import { spawnSync } from 'node:child_process';
import { MAIN, RUN_TIMEOUT_MS } from './__tests__/run-cli';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('dovewarden command line', () => {
  it('lists every setting with its env name in --help', () => {
    const { status, stdout } = run(['--help']);
    expect(status).toBe(0);
    for (const env of [
      'DOVEWARDEN_HTTP_ADDR',
      'DOVEWARDEN_METRICS_ADDR',
      'DOVEWARDEN_REDIS_MODE',
      'DOVEWARDEN_REDIS_ADDR',
      'DOVEWARDEN_NAMESPACE',
      'DOVEWARDEN_NUM_WORKERS',
      'DOVEWARDEN_DOVEADM_URL',
      'DOVEWARDEN_DOVEADM_PASSWORD',
      'DOVEWARDEN_DOVEADM_DEST',
      'DOVEWARDEN_LOG_LEVEL',
      'DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED',
      'DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL',
      'DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD',
      'DOVEWARDEN_DATA_DIR',
    ]) {
      expect(stdout.replace(/\s+/g, ' ')).toContain(env);
    }
  });

  it.each([
    [
      ['worker'],
      { DOVEWARDEN_REDIS_MODE: 'external' },
      /^dovewarden: missing --doveadm-password \(DOVEWARDEN_DOVEADM_PASSWORD\)/,
    ],
    [
      ['ingest'],
      { DOVEWARDEN_REDIS_MODE: 'external', DOVEWARDEN_NUM_WORKERS: 'lots' },
      /^dovewarden: invalid --num-workers \(DOVEWARDEN_NUM_WORKERS\)/,
    ],
    [
      ['ingest', '--http-addr', 'nope'],
      { DOVEWARDEN_REDIS_MODE: 'external' },
      /^dovewarden: invalid --http-addr \(DOVEWARDEN_HTTP_ADDR\)/,
    ],
    [
      ['ingest'],
      {},
      /^dovewarden: invalid --redis-mode \(DOVEWARDEN_REDIS_MODE\): inmemory only works with "dovewarden all"/,
    ],
    [
      ['all'],
      { DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: 'soon' },
      /DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL/,
    ],
    [['frobnicate'], {}, /^dovewarden: Unknown command: frobnicate/],
    [['all', '--no-such-flag'], {}, /^dovewarden: Unknown argument/],
  ])('%j with %j fails with one line and exit 1', (args, env, pattern) => {
    const { status, stdout, stderr } = run(args, env);
    expect(status).toBe(1);
    expect(stderr).toMatch(pattern);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\s+at\s/);
    expect(stdout).toBe('');
  });

  it('says how to get redis-server when it is missing', () => {
    const { status, stderr, stdout } = run(['all'], {
      PATH: '/nonexistent',
      DOVEWARDEN_DATA_DIR: '/tmp/dw-cli-test-data',
    });
    expect(status).toBe(1);
    expect(stdout).not.toMatch(/\bat\s/);
    expect(stderr).toMatch(
      /redis-server was not found.*apt-get install redis-server.*DOVEWARDEN_REDIS_MODE=external/,
    );
  });
});
