import { spawnSync } from 'node:child_process';
import { MAIN, RUN_TIMEOUT_MS } from './__tests__/run-cli';

/**
 * The Go dovewarden's environments given to the real command: its docker-compose file and its
 * Helm chart's defaults, with the variables Kubernetes adds for the chart's Services. Each value
 * is checked one by one in packages/shared/src/config/go-compat.test.ts; this proves the
 * process starts with them (none is an unknown argument) and prints its warnings on stderr.
 * `dovecot-config` reads the whole config and exits without opening any connection.
 */
function run(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The dovewarden service of the Go repository's docker-compose.yaml. */
const GO_COMPOSE = {
  DOVEWARDEN_DOVEADM_DEST: 'tcp:host.docker.internal:31345',
  DOVEWARDEN_DOVEADM_PASSWORD: 'doveadm',
  DOVEWARDEN_DOVEADM_URL: 'http://host.docker.internal:30080',
  DOVEWARDEN_DOVEADM_USER: 'doveadm',
};

/** helm/dovewarden's deployment env at the default values, password and destination set. */
const GO_CHART = {
  DOVEWARDEN_HTTP_ADDR: ':8080',
  DOVEWARDEN_METRICS_ADDR: ':9090',
  DOVEWARDEN_REDIS_MODE: 'inmemory',
  DOVEWARDEN_NAMESPACE: 'dovewarden',
  DOVEWARDEN_NUM_WORKERS: '4',
  DOVEWARDEN_LOG_LEVEL: 'info',
  DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'true',
  DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '1h',
  DOVEWARDEN_BACKGROUND_REPLICATION_THRESHOLD: '24h',
  DOVEWARDEN_DOVEADM_URL: 'http://doveadm:8080',
  DOVEWARDEN_DOVEADM_PASSWORD: 'chart-secret',
  DOVEWARDEN_DOVEADM_DEST: 'tcp:dovecot-b:12345',
};

/** Kubernetes' Service links for the chart's "dovewarden" and "dovewarden-metrics" Services. */
const SERVICE_LINKS = {
  DOVEWARDEN_SERVICE_HOST: '10.96.0.10',
  DOVEWARDEN_SERVICE_PORT: '8080',
  DOVEWARDEN_SERVICE_PORT_HTTP: '8080',
  DOVEWARDEN_PORT: 'tcp://10.96.0.10:8080',
  DOVEWARDEN_PORT_8080_TCP: 'tcp://10.96.0.10:8080',
  DOVEWARDEN_PORT_8080_TCP_PROTO: 'tcp',
  DOVEWARDEN_PORT_8080_TCP_PORT: '8080',
  DOVEWARDEN_PORT_8080_TCP_ADDR: '10.96.0.10',
  DOVEWARDEN_METRICS_SERVICE_HOST: '10.96.0.11',
  DOVEWARDEN_METRICS_SERVICE_PORT: '9090',
  DOVEWARDEN_METRICS_PORT: 'tcp://10.96.0.11:9090',
  DOVEWARDEN_METRICS_PORT_9090_TCP_ADDR: '10.96.0.11',
};

describe('the Go dovewarden environment, given to the command', () => {
  it.each([
    ['docker-compose', GO_COMPOSE],
    ['the Helm chart', { ...GO_CHART, ...SERVICE_LINKS }],
  ])("%s's environment starts without a word", (_name, env) => {
    const { status, stdout, stderr } = run(['dovecot-config'], env);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('event_exporter dovewarden');
  });

  it('warns on stderr where a value means something else than in Go', () => {
    const { status, stdout, stderr } = run(['dovecot-config'], {
      ...GO_CHART,
      DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'TRUE',
      DOVEWARDEN_DOVEADM_USER: 'admin',
      LOG_FORMAT: 'logfmt',
    });
    expect(status).toBe(0);
    expect(stdout).toContain('event_exporter dovewarden');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.every((line) => line.startsWith('dovewarden: warning: '))).toBe(true);
    expect(stderr).toContain('DOVEWARDEN_DOVEADM_USER is ignored');
    expect(stderr).toContain('LOG_FORMAT is "logfmt": read as text');
    expect(stderr).toContain('(DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED) is "TRUE": read as true');
  });

  it("prints B's config with --server replica: its own changes go to /events?server=replica", () => {
    const replica = run(
      ['dovecot-config', '--server', 'replica', '--url', 'http://dw:8080/events'],
      GO_COMPOSE,
    );
    expect(replica.status).toBe(0);
    expect(replica.stdout).toMatch(
      /http_post_url = http:\/\/[^\n]*dw:8080\/events\?server=replica\n/,
    );
    const source = run(['dovecot-config', '--url', 'http://dw:8080/events'], GO_COMPOSE);
    expect(source.stdout).not.toContain('server=replica');
    const wrong = run(['dovecot-config', '--server', 'b'], GO_COMPOSE);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('invalid --server: expected source or replica, got "b"');
  });

  it('says nothing of the environment for --help', () => {
    const { status, stderr } = run(['--help'], { DOVEWARDEN_DOVEADM_USER: 'admin' });
    expect(status).toBe(0);
    expect(stderr).toBe('');
  });

  it("stops on the chart's empty default destination with one line", () => {
    const { status, stderr } = run(['all'], {
      ...GO_CHART,
      ...SERVICE_LINKS,
      DOVEWARDEN_DOVEADM_DEST: '',
    });
    expect(status).toBe(1);
    expect(stderr).toMatch(
      /^dovewarden: invalid --doveadm-dest \(DOVEWARDEN_DOVEADM_DEST\): expected a dsync destination/,
    );
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
