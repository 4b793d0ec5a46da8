export * from './dovecot';
export * from './imap';
export * from './lmtp';
export * from './redis';
export * from './process';
export * from './fake-doveadm';
export * from './timing';
