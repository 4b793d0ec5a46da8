import { decodeDsyncState } from '@dovewarden/shared';

/**
 * What dovewarden reads from a dsync state string (decodeDsyncState): the GUIDs of the mailboxes
 * it covers. dsync keeps a mailbox in the state only while it exists on the source, so a GUID that
 * leaves the state between two syncs is a mailbox the source no longer has.
 */

/** The mailbox GUIDs (32 hex digits, as doveadm prints them); empty for a state it cannot read. */
export function mailboxGuidsOfState(state: string | null | undefined): Set<string> {
  return new Set((decodeDsyncState(state ?? '') ?? []).map((mailbox) => mailbox.guid));
}

/** Mailboxes the source had at the earlier state and no longer has at the later one. */
export function departedMailboxes(earlier: string | null, later: string): string[] {
  const now = mailboxGuidsOfState(later);
  return [...mailboxGuidsOfState(earlier)].filter((guid) => !now.has(guid));
}
