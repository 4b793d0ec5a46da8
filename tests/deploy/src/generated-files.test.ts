import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliPath } from '@dovewarden/testkit';
import { ROOT, repoFile } from './repo';

const SCRIPT = path.join(ROOT, 'scripts/render-deploy-configs.js');

function render(args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

describe('files generated from one source', () => {
  it('are up to date: the Dovecot event config, and the chart copies of dashboards and alerts', () => {
    const result = render(['--check']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('--check fails and names the file when a generated file drifts', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-render-'));
    try {
      for (const dir of ['deploy', 'charts']) {
        fs.cpSync(path.join(ROOT, dir), path.join(copy, dir), { recursive: true });
      }
      expect(render(['--check', '--root', copy]).status).toBe(0);
      const drifted = path.join(copy, 'charts/dovewarden/files/dovecot-events.conf.tpl');
      fs.writeFileSync(
        drifted,
        fs.readFileSync(drifted, 'utf8').replace(/max_attempts = \d+/, 'max_attempts = 1'),
      );
      fs.appendFileSync(path.join(copy, 'deploy/prometheus/alerts.yml'), '# edited\n');
      const result = render(['--check', '--root', copy]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('charts/dovewarden/files/dovecot-events.conf.tpl');
      expect(result.stderr).toContain('charts/dovewarden/files/alerts.yml');
      expect(result.stderr).not.toContain('dovewarden-overview.json');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it("A's exporter config is exactly what `dovewarden dovecot-config` prints for ingest", () => {
    const printed = spawnSync(
      process.execPath,
      [
        cliPath(),
        'dovecot-config',
        '--dovecot-version',
        '2.4',
        '--url',
        'http://ingest:8080/events',
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    expect(printed.status).toBe(0);
    const checkedIn = repoFile('deploy/dovecot/conf.d/dovewarden-events.conf');
    expect(checkedIn).toBe(printed.stdout);
    // The settings that make Dovecot retry ingest's 503 + Retry-After instead of dropping.
    const attempts = /http_client_request_max_attempts = (\d+)/.exec(checkedIn);
    expect(Number(attempts?.[1])).toBeGreaterThan(1);
    expect(checkedIn).toMatch(/http_client_request_absolute_timeout = \d+s/);
  });

  it("the chart's template differs from the CLI's output only by the URL it fills in", () => {
    const template = repoFile('charts/dovewarden/files/dovecot-events.conf.tpl');
    const compose = repoFile('deploy/dovecot/conf.d/dovewarden-events.conf');
    expect(template).toContain('http://DOVEWARDEN-EVENTS-URL/events');
    expect(
      template.replace('http://DOVEWARDEN-EVENTS-URL/events', 'http://ingest:8080/events'),
    ).toBe(compose);
    const chartTemplate = repoFile('charts/dovewarden/templates/dovecot-events.yaml');
    expect(chartTemplate).toContain('replace "http://DOVEWARDEN-EVENTS-URL/events"');
  });
});
