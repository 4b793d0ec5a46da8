import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from './availability';
import { renderConfig, renderUsers, type ConfigInput } from './config';

const INPUT: ConfigInput = {
  version: '2.4',
  instanceName: 'dovewarden-x',
  dir: '/tmp/dovewarden-test-A-x',
  ports: { imap: 1001, lmtp: 1002, doveadmTcp: 1003, doveadmHttp: 1004 },
  doveadmPassword: 'p"w',
  mailDriver: 'sdbox',
  eventsUrl: 'http://127.0.0.1:9/events',
};

describe('renderConfig', () => {
  it('puts dovecot_config_version first for 2.4, which Dovecot requires', () => {
    expect(renderConfig(INPUT).split('\n')[0]).toBe('dovecot_config_version = 2.4.0');
  });

  it('raises the exporter retry settings so a 503 + Retry-After is retried', () => {
    const config = renderConfig(INPUT);
    expect(config).toContain('http_client_request_max_attempts = 8');
    expect(config).toContain('http_client_request_absolute_timeout = 15s');
    expect(config).toContain('http_post_url = http://127.0.0.1:9/events');
    expect(config).toContain('doveadm_password = "p\\"w"');
  });

  it('uses the 2.3 syntax for 2.3 and no exporter without eventsUrl', () => {
    const config = renderConfig({
      ...INPUT,
      version: '2.3',
      eventsUrl: undefined,
      mailDriver: 'maildir',
    });
    expect(config).toContain('mail_location = maildir:~/Maildir');
    expect(config).not.toContain('event_exporter');
    expect(config).not.toContain('dovecot_config_version');
  });

  it('writes passwd-file lines with uid 5000 and a per-instance home', () => {
    expect(renderUsers([{ name: 'user1', password: 'secret' }], '/d/home')).toBe(
      'user1:{PLAIN}secret:5000:5000::/d/home/user1::\n',
    );
  });
});

describe('findRepoRoot', () => {
  it('finds the folder with turbo.json', () => {
    const root = findRepoRoot();
    expect(root).not.toBeNull();
    expect(fs.existsSync(path.join(root!, 'turbo.json'))).toBe(true);
    expect(findRepoRoot('/')).toBeNull();
  });
});
