/**
 * What a caller should do about a failed call. The worker switches on this exhaustively,
 * so adding a kind is a breaking change on purpose.
 *
 * - `changed-during-sync`: doveadm exit 2. The sync ran, but mailboxes changed meanwhile and
 *   Dovecot discarded the new state: keep the old state and sync again soon.
 * - `temporary`: exit 75, connection trouble, timeouts, HTTP 5xx. Retry with backoff.
 * - `unknown-user`: exit 67, on the source or on the destination. Retrying will not help.
 * - `configuration`: the operator must fix something (password, API key, allowed commands,
 *   URL, permissions). Every user fails the same way, so stop hammering the server.
 * - `client-bug`: the request itself was wrong; a defect in dovewarden, not in the mailbox.
 * - `permanent`: this request cannot succeed as it stands (over quota, data Dovecot refuses,
 *   an answer we cannot make sense of).
 * - `aborted`: our own AbortSignal cancelled the call, e.g. during shutdown.
 */
export type DoveadmErrorKind =
  | 'changed-during-sync'
  | 'temporary'
  | 'unknown-user'
  | 'configuration'
  | 'client-bug'
  | 'permanent'
  | 'aborted';

export const DOVEADM_ERROR_KINDS: readonly DoveadmErrorKind[] = [
  'changed-during-sync',
  'temporary',
  'unknown-user',
  'configuration',
  'client-bug',
  'permanent',
  'aborted',
];

export function isRetryableKind(kind: DoveadmErrorKind): boolean {
  switch (kind) {
    case 'changed-during-sync':
    case 'temporary':
      return true;
    case 'unknown-user':
    case 'configuration':
    case 'client-bug':
    case 'permanent':
    case 'aborted':
      return false;
  }
}
