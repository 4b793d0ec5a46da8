/**
 * The one reader of a dsync state string, format 1.x (Dovecot's dsync_mailbox_states_export(),
 * src/doveadm/dsync/dsync-mailbox-state.c): base64 of a 4-byte header (major 1, minor, 0, 0),
 * one 44-byte record per mailbox (a 16-byte GUID, then seven little-endian uint32s: UIDVALIDITY,
 * last common UID, last common modseq and private modseq as two halves each, message count) and
 * a CRC32. The worker reads the mailbox GUIDs from it; the chaos harness shows the rest.
 */
export interface DsyncStateMailbox {
  /** 32 hex digits, as doveadm prints mailbox GUIDs. */
  guid: string;
  uidValidity: number;
  lastCommonUid: number;
  lastCommonModseq: number;
  messages: number;
}

const HEADER_BYTES = 4;
const RECORD_BYTES = 16 + 7 * 4;
const CRC_BYTES = 4;

/** The mailboxes of a state: [] for none (''), undefined for a state it cannot read. */
export function decodeDsyncState(state: string): DsyncStateMailbox[] | undefined {
  if (state === '') return [];
  const bytes = Buffer.from(state, 'base64');
  const body = bytes.length - HEADER_BYTES - CRC_BYTES;
  if (bytes[0] !== 1 || body < 0 || body % RECORD_BYTES !== 0) return undefined;
  const mailboxes: DsyncStateMailbox[] = [];
  for (let at = HEADER_BYTES; at < HEADER_BYTES + body; at += RECORD_BYTES) {
    mailboxes.push({
      guid: bytes.subarray(at, at + 16).toString('hex'),
      uidValidity: bytes.readUInt32LE(at + 16),
      lastCommonUid: bytes.readUInt32LE(at + 20),
      lastCommonModseq: bytes.readUInt32LE(at + 24) + bytes.readUInt32LE(at + 28) * 2 ** 32,
      messages: bytes.readUInt32LE(at + 40),
    });
  }
  return mailboxes;
}
