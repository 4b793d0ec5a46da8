import { spawnSync } from 'node:child_process';
import { MAIN, RUN_TIMEOUT_MS } from './__tests__/run-cli';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [MAIN, 'dovecot-config', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOVEWARDEN_REDIS_MODE: 'external', ...env },
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The text of one top-level block of a Dovecot config, by its opening line. */
function block(config: string, opening: string): string | undefined {
  const start = config.indexOf(`${opening} {\n`);
  if (start < 0) return undefined;
  const end = config.indexOf('\n}\n', start);
  return config.slice(start, end + 2);
}

/**
 * What `dovewarden dovecot-config` prints for synchronous delivery replication: nothing unless
 * DOVEWARDEN_SYNC_WAIT_TIMEOUT is set; then the Lua hook in protocol lmtp and lda only, with
 * ingest's /sync-wait and its credentials, and the timeout. Real Dovecot loads it in the
 * sync-wait e2e test.
 */
describe('dovecot-config for sync-wait', () => {
  it('prints no hook while sync-wait is off (the default)', () => {
    const { status, stdout } = run(['--url', 'http://dw:8080/events']);
    expect(status).toBe(0);
    expect(stdout).not.toContain('push_notification');
    expect(stdout).not.toContain('sync-wait');
  });

  it('prints the hook for lmtp and lda only, never for doveadm, with the timeout and credentials', () => {
    const { status, stdout } = run(['--url', 'http://dw:8080/base/events'], {
      DOVEWARDEN_SYNC_WAIT_TIMEOUT: '2s',
      DOVEWARDEN_INGEST_PASSWORD: 'p"w',
    });
    expect(status).toBe(0);
    for (const protocol of ['lmtp', 'lda']) {
      expect(block(stdout, `protocol ${protocol}`)).toContain('push_notification_lua = yes');
    }
    expect(stdout).not.toMatch(/protocol (doveadm|imap)/);
    // Not loaded globally either: the one mail_plugins block of each is inside its protocol.
    expect(stdout.match(/mail_plugins \{/g)).toHaveLength(2);
    const hook = block(stdout, 'push_notification dovewarden_sync_wait') ?? '';
    expect(hook).toContain('driver = lua');
    expect(hook).toContain('lua_file = /etc/dovecot/dovewarden-sync-wait.lua');
    expect(hook).toContain('url = "http://dovecot:p%22w@dw:8080/base/sync-wait"');
    expect(hook).toContain('timeout_ms = 2000');
  });

  it('takes the Lua path, refuses a relative one, and prints the script itself', () => {
    const env = { DOVEWARDEN_SYNC_WAIT_TIMEOUT: '1500ms' };
    const placed = run(['--sync-wait-lua-path', '/srv/dovecot/wait.lua'], env);
    expect(placed.stdout).toContain('lua_file = /srv/dovecot/wait.lua');
    const relative = run(['--sync-wait-lua-path', 'wait.lua'], env);
    expect(relative.status).not.toBe(0);
    expect(relative.stderr).toContain('invalid --sync-wait-lua-path');
    const script = run(['--sync-wait-lua']);
    expect(script.status).toBe(0);
    for (const name of [
      'script_init',
      'dovecot_lua_notify_begin_txn',
      'dovecot_lua_notify_event_message_new',
      'dovecot_lua_notify_end_txn',
    ])
      expect(script.stdout).toContain(`function ${name}(`);
  });

  it('gives B no hook, and says what 2.3 has instead', () => {
    const env = { DOVEWARDEN_SYNC_WAIT_TIMEOUT: '2s' };
    const replica = run(['--server', 'replica', '--url', 'http://dw:8080/events'], env);
    expect(replica.stdout).not.toContain('push_notification');
    const old = run(['--dovecot-version', '2.3', '--url', 'http://dw:8080/events'], env);
    expect(old.status).toBe(0);
    expect(old.stdout).not.toContain('push_notification dovewarden');
    expect(old.stdout).toContain('replication_sync_timeout');
  });

  it('refuses a timeout past 5 minutes', () => {
    const { status, stderr } = run([], { DOVEWARDEN_SYNC_WAIT_TIMEOUT: '10m' });
    expect(status).not.toBe(0);
    expect(stderr).toContain('DOVEWARDEN_SYNC_WAIT_TIMEOUT');
  });
});
