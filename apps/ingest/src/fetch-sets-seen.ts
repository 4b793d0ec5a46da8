/**
 * Whether a FETCH sets \Seen, judged from its arguments (cmd_args). RFC 3501: BODY[section]
 * and RFC822 / RFC822.TEXT without .PEEK set \Seen on a read-write mailbox, and so does
 * BINARY[section] (RFC 3516). No STORE event names that change, so the FETCH must trigger the
 * sync: otherwise a user who read mail on A finds it unread on B after a failover.
 *
 * BODY.PEEK[...], BINARY.PEEK[...], RFC822.HEADER, RFC822.SIZE, BODY (without a section),
 * BODYSTRUCTURE, FLAGS, ENVELOPE and the like do not.
 */
export function fetchSetsSeen(cmdArgs: string): boolean {
  // Section contents may quote header names; only the attribute names matter.
  const attributes = cmdArgs.toUpperCase().replace(/\[[^\]]*\]/g, '[]');
  return (
    /(^|[\s(])(BODY|BINARY)\[\]/.test(attributes) ||
    /(^|[\s(])RFC822(\.TEXT)?(?=$|[\s)])/.test(attributes)
  );
}
