import { findLogProblems } from './log-check';

const LOG = [
  'Nov 28 17:45:30 master: Info: Dovecot v2.4.1-4 starting up for imap, lmtp',
  'Nov 28 17:45:31 imap(user1)<1><x>: Error: Mailbox INBOX: something broke',
  'Nov 28 17:45:32 master: Warning: SIGHUP received - reloading configuration',
  'Nov 28 17:45:33 auth: Warning: slow lookup',
  'Nov 28 17:45:34 doveadm: Panic: file x.c: assertion failed',
  'Nov 28 17:45:39 master: Warning: Killed with signal 15 (by pid=1 uid=0 code=kill)',
].join('\n');

describe('findLogProblems', () => {
  it('reports Error, Fatal and Panic lines only, by default', () => {
    expect(findLogProblems(LOG)).toEqual([
      'Nov 28 17:45:31 imap(user1)<1><x>: Error: Mailbox INBOX: something broke',
      'Nov 28 17:45:34 doveadm: Panic: file x.c: assertion failed',
    ]);
  });

  it('adds warnings on request, minus the noise of a stop or a reload', () => {
    expect(findLogProblems(LOG, { includeWarnings: true, allow: [/something broke/] })).toEqual([
      'Nov 28 17:45:33 auth: Warning: slow lookup',
      'Nov 28 17:45:34 doveadm: Panic: file x.c: assertion failed',
    ]);
  });
});
