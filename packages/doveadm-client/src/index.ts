export { DoveadmClient } from './doveadm-client';
export { UserList } from './protocol/user-list';
export { DoveadmTcpClient, type DoveadmTcpClientOptions } from './tcp/doveadm-tcp-client';
export type {
  CallOptions,
  DoveadmClientOptions,
  DoveadmRead,
  DoveadmReadResult,
  DoveadmReadResults,
  FetchedMessage,
  MailboxListOptions,
  MailboxStatus,
  MailboxStatusField,
  SyncOptions,
  SyncResult,
} from './types';
export { MAILBOX_STATUS_FIELDS } from './types';
export type { DoveadmCredentials } from './http/authorization';
export type { DoveadmParams, DoveadmParamValue } from './protocol/doveadm-params';
export {
  CLIENT_REQUIREMENTS,
  SYNC_REQUIREMENTS,
  describeMissingCapabilities,
  findMissingCapabilities,
  type CommandRequirements,
  type DoveadmCommandInfo,
  type DoveadmParameterInfo,
  type MissingCapability,
} from './capabilities';
export * from './errors';
export { isDoveadmError } from './is-doveadm-error';
