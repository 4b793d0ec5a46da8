/**
 * What dovewarden reads from a dsync state string: the GUIDs of the mailboxes it covers. Format
 * 1.x (Dovecot's dsync_mailbox_states_export()): base64 of a 4-byte header (major 1, minor,
 * 0, 0), one 44-byte record per mailbox (a 16-byte GUID, then seven little-endian uint32s) and a
 * CRC32. dsync keeps a mailbox in the state only while it exists on the source, so a GUID that
 * leaves the state between two syncs is a mailbox the source no longer has.
 */
const HEADER_BYTES = 4;
const RECORD_BYTES = 16 + 7 * 4;
const CRC_BYTES = 4;

/** The mailbox GUIDs (32 hex digits, as doveadm prints them); empty for a state it cannot read. */
export function mailboxGuidsOfState(state: string | null | undefined): Set<string> {
  const guids = new Set<string>();
  if (state === null || state === undefined || state === '') return guids;
  const bytes = Buffer.from(state, 'base64');
  const body = bytes.length - HEADER_BYTES - CRC_BYTES;
  if (bytes[0] !== 1 || body < 0 || body % RECORD_BYTES !== 0) return guids;
  for (let offset = HEADER_BYTES; offset < HEADER_BYTES + body; offset += RECORD_BYTES)
    guids.add(bytes.subarray(offset, offset + 16).toString('hex'));
  return guids;
}

/** Mailboxes the source had at the earlier state and no longer has at the later one. */
export function departedMailboxes(earlier: string | null, later: string): string[] {
  const now = mailboxGuidsOfState(later);
  return [...mailboxGuidsOfState(earlier)].filter((guid) => !now.has(guid));
}
