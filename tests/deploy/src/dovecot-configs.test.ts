import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeWithDovecot, dovecot24Root } from '@dovewarden/testkit';
import { ROOT, repoFile, repoYaml } from './repo';

const DEPLOY = path.join(ROOT, 'deploy/dovecot');

/**
 * The official dovecot/dovecot 2.4 image has a vmail user (uid/gid 1000) that the chroot lacks,
 * and doveconf refuses a default_login_user that does not exist. Rather than touch the shared
 * chroot, a private mount namespace binds copies of passwd and group that add it.
 */
function doveconf(
  root: string,
  dir: string,
  main: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const inside = `/${path.relative(root, dir)}`;
  const result = spawnSync(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$1/passwd" "$2/etc/passwd" && mount --bind "$1/group" "$2/etc/group" && shift 2 && exec chroot "$@"',
      'sh',
      dir,
      root,
      root,
      'doveconf',
      '-c',
      `${inside}/${main}`,
      ...args,
    ],
    { encoding: 'utf8' },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describeWithDovecot('2.4')('deploy/dovecot configs under a real Dovecot 2.4 doveconf', () => {
  const root = dovecot24Root();
  let dir = '';

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(root, 'tmp', 'dw-deploy-'));
    fs.cpSync(DEPLOY, dir, { recursive: true });
    // In the containers these files sit in /etc/dovecot; here, in the temporary copy.
    const inside = `/${path.relative(root, dir)}`;
    for (const file of ['common.conf', 'sync-wait/dovewarden-sync-wait.conf']) {
      const copy = path.join(dir, file);
      fs.writeFileSync(
        copy,
        fs.readFileSync(copy, 'utf8').replaceAll('/etc/dovecot/', `${inside}/`),
      );
    }
    fs.writeFileSync(
      path.join(dir, 'passwd'),
      `${fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8')}vmail:x:1000:1000::/srv/vmail:/bin/sh\n`,
    );
    fs.writeFileSync(
      path.join(dir, 'group'),
      `${fs.readFileSync(path.join(root, 'etc/group'), 'utf8')}vmail:x:1000:\n`,
    );
  });
  afterAll(() => {
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  it('A loads, with the generated event exporter, the Doveadm HTTP API and the TCP listener the syncs use', () => {
    const result = doveconf(root, dir, 'dovecot-a.conf', ['-n']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/event_exporter dovewarden \{[^}]*driver = http-post/);
    expect(result.stdout).toContain('http_post_url = http://ingest:8080/events');
    expect(result.stdout).toMatch(/http_client_request_max_attempts = ([2-9]|\d\d)/);
    expect(result.stdout).toMatch(/metric dovewarden_imap \{/);
    expect(result.stdout).toMatch(/inet_listener http \{\s*port = 8080\s*ssl = no/);
    expect(result.stdout).toMatch(/inet_listener tcp \{\s*port = 12345/);
    expect(repoFile('docker-compose.yml')).toContain(
      'DOVEWARDEN_DOVEADM_TCP_ADDR: tcp:dovecot-a:12345',
    );
  });

  it('A loads the sync-wait hook for lmtp and lda when compose mounts it, and has none without', () => {
    const on = doveconf(root, dir, 'dovecot-a.conf', ['-n']);
    expect(on.stderr).toBe('');
    expect(on.status).toBe(0);
    const hook = on.stdout.slice(on.stdout.indexOf('push_notification dovewarden_sync_wait {'));
    expect(hook).toMatch(/^\s*driver = lua$/m);
    expect(on.stdout).toContain('url = http://ingest:8080/sync-wait');
    expect(on.stdout).toMatch(
      /protocol lmtp \{[^}]*mail_plugins \{[^}]*push_notification_lua = yes/,
    );
    expect(on.stdout).not.toMatch(/protocol doveadm \{[^}]*push_notification/);
    // The mount is commented out in the demo: sync-wait stays off until an operator turns it on.
    expect(repoFile('docker-compose.yml')).toContain(
      '# - ./deploy/dovecot/sync-wait:/etc/dovecot/sync-wait:ro',
    );
    const aside = path.join(dir, 'sync-wait-aside');
    fs.renameSync(path.join(dir, 'sync-wait'), aside);
    try {
      const off = doveconf(root, dir, 'dovecot-a.conf', ['-n']);
      expect(off.status).toBe(0);
      expect(off.stdout).not.toContain('push_notification');
    } finally {
      fs.renameSync(aside, path.join(dir, 'sync-wait'));
    }
  });

  it('B loads, exports no events, and listens for dsync on the port the compose file uses', () => {
    const result = doveconf(root, dir, 'dovecot-b.conf', ['-n']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain('event_exporter');
    expect(result.stdout).toMatch(/inet_listener tcp \{\s*port = 12345/);
  });

  it('A and B share one doveadm_password, and the compose workers use it', () => {
    const password = (main: string): string => {
      const result = doveconf(root, dir, main, ['-P', '-h', 'doveadm_password']);
      expect(result.status).toBe(0);
      return result.stdout.trim();
    };
    const a = password('dovecot-a.conf');
    expect(a.length).toBeGreaterThan(0);
    expect(password('dovecot-b.conf')).toBe(a);
    const compose = repoYaml('docker-compose.yml') as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    for (const app of ['worker', 'scheduler']) {
      expect(compose.services[app]?.environment?.['DOVEWARDEN_DOVEADM_PASSWORD']).toBe(a);
    }
  });

  it('the users the demo logs in with are in the passwd-file, owned by vmail', () => {
    const users = repoFile('deploy/dovecot/users')
      .trim()
      .split('\n')
      .map((line) => line.split(':'));
    const compose = repoYaml('docker-compose.yml') as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const demo = compose.services['demo']?.environment?.['DEMO_USERS'] ?? '';
    const pairs = demo.split(',').map((pair) => pair.split(':'));
    expect(pairs.length).toBeGreaterThan(0);
    for (const [user, password] of pairs) {
      const entry = users.find((fields) => fields[0] === user);
      expect(entry?.[1]).toBe(`{PLAIN}${password}`);
      expect(entry?.slice(2, 4)).toEqual(['1000', '1000']);
    }
  });
});
