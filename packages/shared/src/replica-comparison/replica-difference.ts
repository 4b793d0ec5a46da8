/**
 * One way replica B differs from primary A. The kinds are stable names, so that reports and
 * metrics can count differences by kind.
 */
export type ReplicaDifferenceKind =
  /** A folder on A is not on B (or is only a `\Noselect` parent there). */
  | 'folder-missing'
  /** A folder on B is not on A (or is only a `\Noselect` parent there). */
  | 'folder-extra'
  | 'mailbox-guid'
  | 'uidvalidity'
  | 'uidnext'
  | 'message-count'
  /** A UID on A is not on B. */
  | 'message-missing'
  /** A UID on B is not on A. */
  | 'message-extra'
  /** The same UID holds another message GUID. */
  | 'uid-guid'
  /** The same UID and GUID carry other flags or keywords. */
  | 'flags'
  | 'subscription-missing'
  | 'subscription-extra';

export interface ReplicaDifference {
  kind: ReplicaDifferenceKind;
  /**
   * One line, `"<user> <mailbox>: <what>"`: the user is the first word, which callers that
   * compare many users rely on to find whom to compare again.
   */
  text: string;
}
