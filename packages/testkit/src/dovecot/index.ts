export {
  DEFAULT_DOVECOT24_ROOT,
  describeIf,
  describeWithDovecot,
  dovecot24Missing,
  dovecot24Root,
  ensureDovecot23,
  ensureDovecot23Sync,
  ensureDovecot24,
  ensureDovecot24Sync,
  findRepoRoot,
  isCi,
  repoFile,
  repoRoot,
  itIf,
  missingCommand,
  missingRedisServer,
  requireDovecotOrSkip,
  requireOrSkip,
  type DovecotAvailability,
  type DovecotVersion,
} from './availability';
export {
  compareMailboxes,
  compareUsers,
  snapshotUser,
  waitForConvergence,
  type ComparisonResult,
  type MailboxSnapshot,
} from './compare-mailboxes';
export {
  renderConfig,
  renderUsers,
  type ConfigInput,
  type MailDriver,
  type ServerPorts,
  type TestUser,
} from './config';
export {
  DOVECOT_BACKENDS,
  DovecotContainer,
  defaultDovecotBackend,
  dockerMissing,
  dovecot24Image,
  type DovecotBackend,
} from './dovecot-container';
export { DovecotError, type DovecotErrorCode } from './dovecot-error';
export { startDovecotPair, type DovecotPair, type DovecotPairOptions } from './dovecot-pair';
export {
  DEFAULT_PASSWORD,
  DovecotServer,
  randomPassword,
  type DoveadmOptions,
  type DovecotServerOptions,
} from './dovecot-server';
export {
  DoveadmTcpProxy,
  overlapsOf,
  type AnswerInterceptor,
  type ProxiedSync,
  type ProxyMode,
} from './doveadm-tcp-proxy';
export { EventSink, type ExportedEvent } from './event-sink';
export { KNOWN_LOG_NOISE, findLogProblems, type LogCheckOptions } from './log-check';
export { freePorts } from './ports';
export type { CommandResult } from './run-command';
